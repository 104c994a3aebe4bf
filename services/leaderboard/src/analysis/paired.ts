/**
 * Two configs compared on the same seeds and test images: the paired two-stage bootstrap
 * of a metric's difference (pairedHierarchicalDifference, docs/statistics.md). The pair is
 * restricted to the seeds both configs have and, within a seed, to the images both
 * predicted; a comparison that cannot be made says why.
 */
import type { CompareConfigsResponse, PairedDifference } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  type MetricName,
  mcnemarExact,
  type PairedHierarchicalDifference,
  pairedHierarchicalDifference,
  pairedHierarchicalDifferences,
  type SeedPredictions,
} from '@masksweep/stats';
import { type ConfigPredictions, RESAMPLES, SCORED_METRICS } from './config-summary.js';

export interface AlignedPair {
  /** Per common seed, the images both configs predicted, in the same order. */
  groupsA: SeedPredictions[];
  groupsB: SeedPredictions[];
  /** Every common seed holds the same images. */
  shared: boolean;
}

export type Pairing = { ok: true; pair: AlignedPair } | { ok: false; reason: string };

/** The two configs' predictions on their common seeds and images; why not, when they have none. */
export function alignPair(a: ConfigPredictions, b: ConfigPredictions): Pairing {
  if (a.groups.length === 0 || b.groups.length === 0) {
    const missing = a.groups.length === 0 ? a.configKey : b.configKey;
    return { ok: false, reason: `config ${missing} lacks stored test predictions of some seed` };
  }
  if (a.numClasses !== b.numClasses) {
    return {
      ok: false,
      reason: `config ${b.configKey} has ${b.numClasses} classes, config ${a.configKey} has ${a.numClasses}`,
    };
  }
  const bySeedB = new Map(b.groups.map((group) => [group.seed, group]));
  const groupsA: SeedPredictions[] = [];
  const groupsB: SeedPredictions[] = [];
  for (const groupA of a.groups) {
    const groupB = bySeedB.get(groupA.seed);
    if (!groupB) continue;
    const indexB = new Map((groupB.sampleIds ?? []).map((id, i) => [id, i]));
    const sampleIds: string[] = [];
    const labels: number[] = [];
    const predictionsA: number[] = [];
    const predictionsB: number[] = [];
    const idsA = groupA.sampleIds ?? [];
    for (let i = 0; i < idsA.length; i++) {
      const id = idsA[i] as string;
      const j = indexB.get(id);
      if (j === undefined) continue;
      const label = groupA.labels[i] as number;
      if (groupB.labels[j] !== label) {
        return {
          ok: false,
          reason: `sample ${JSON.stringify(id)} (seed ${groupA.seed}) has label ${label} in config ${a.configKey} and ${groupB.labels[j]} in config ${b.configKey}`,
        };
      }
      sampleIds.push(id);
      labels.push(label);
      predictionsA.push(groupA.predictions[i] as number);
      predictionsB.push(groupB.predictions[j] as number);
    }
    if (labels.length === 0) continue;
    groupsA.push({ seed: groupA.seed, sampleIds, labels, predictions: predictionsA });
    groupsB.push({ seed: groupA.seed, sampleIds, labels, predictions: predictionsB });
  }
  if (groupsA.length === 0) {
    return {
      ok: false,
      reason: `configs ${a.configKey} and ${b.configKey} have no predicted sample (seed, sample id) in common`,
    };
  }
  // One shared test set when every seed has the same images with the same labels.
  const testSetOf = (group: SeedPredictions) => JSON.stringify([group.sampleIds, group.labels]);
  const first = testSetOf(groupsA[0] as SeedPredictions);
  const shared = groupsA.every((group) => testSetOf(group) === first);
  return { ok: true, pair: { groupsA, groupsB, shared } };
}

export interface PairedOptions {
  numClasses: number;
  confidence: number;
  resamples?: number;
  rng: Random;
}

/** metric(A) − metric(B) on an aligned pair; p_value_holm is left NaN for the caller. */
export function pairedDifference(
  pair: AlignedPair,
  metric: string,
  options: PairedOptions,
): PairedDifference {
  const name = SCORED_METRICS.get(metric) as MetricName;
  const result = pairedHierarchicalDifference(pair.groupsA, pair.groupsB, name, {
    testSet: pair.shared ? 'shared' : 'per-seed',
    numClasses: options.numClasses,
    resamples: options.resamples ?? RESAMPLES,
    confidence: options.confidence,
    rng: options.rng,
  });
  return toMessage(result, metric, pair.shared);
}

/**
 * metric(row) − metric(reference) for each row, or why it cannot be compared. Rows that
 * share the reference's seeds and images (all of them, in a Sweep) are resampled together,
 * on draws from a generator seeded with `seed` for each such set: a row's result does not
 * depend on the other rows.
 */
export function differencesWith(
  reference: ConfigPredictions,
  rows: readonly ConfigPredictions[],
  metric: string,
  options: Omit<PairedOptions, 'rng'> & { seed: number },
): Map<string, PairedDifference | string> {
  const results = new Map<string, PairedDifference | string>();
  const batches = new Map<
    string,
    { base: AlignedPair; rows: Array<[string, SeedPredictions[]]> }
  >();
  for (const row of rows) {
    const pairing = alignPair(reference, row);
    if (!pairing.ok) {
      results.set(row.configKey, pairing.reason);
      continue;
    }
    const { pair } = pairing;
    // The reference's seeds and images both have: rows with the same share one resampling.
    const base = JSON.stringify(pair.groupsA.map((group) => [group.seed, group.sampleIds]));
    const batch = batches.get(base) ?? { base: pair, rows: [] };
    batch.rows.push([row.configKey, pair.groupsB]);
    batches.set(base, batch);
  }
  const name = SCORED_METRICS.get(metric) as MetricName;
  for (const { base, rows: batch } of batches.values()) {
    const differences = pairedHierarchicalDifferences(
      batch.map(([, groups]) => groups),
      base.groupsA,
      name,
      {
        testSet: base.shared ? 'shared' : 'per-seed',
        numClasses: options.numClasses,
        resamples: options.resamples ?? RESAMPLES,
        confidence: options.confidence,
        rng: new Random(options.seed),
      },
    );
    batch.forEach(([key], i) => {
      results.set(
        key,
        toMessage(differences[i] as PairedHierarchicalDifference, metric, base.shared),
      );
    });
  }
  return results;
}

/**
 * One CompareConfigs as plain data: what the statistics need, read from the store on the
 * main thread and computed by a worker thread (../statistics/pool.ts) or in place.
 */
export interface ComparisonTask {
  pair: AlignedPair;
  metric: string;
  numClasses: number;
  confidence: number;
  resamples: number;
  seed: number;
}

/** The statistics of a CompareConfigs response: the paired bootstrap and McNemar's test. */
export function computeComparison(task: ComparisonTask): CompareConfigsResponse {
  const { pair } = task;
  const paired = pairedDifference(pair, task.metric, {
    numClasses: task.numClasses,
    confidence: task.confidence,
    resamples: task.resamples,
    rng: new Random(task.seed),
  });
  const pooled = (groups: SeedPredictions[], pick: 'labels' | 'predictions') =>
    groups.flatMap((group) => group[pick]);
  const mcnemar = mcnemarExact(
    pooled(pair.groupsA, 'labels'),
    pooled(pair.groupsA, 'predictions'),
    pooled(pair.groupsB, 'predictions'),
  );
  return {
    pairedSamples: pairedSamples(pair),
    difference: paired.difference,
    ciLow: paired.ciLow,
    ciHigh: paired.ciHigh,
    onlyACorrect: mcnemar.b,
    onlyBCorrect: mcnemar.c,
    mcnemarPValue: mcnemar.pValue,
    pairedDifference: paired,
  };
}

/** The (seed, image) pairs of an aligned pair. */
export function pairedSamples(pair: AlignedPair): number {
  return pair.groupsA.reduce((sum, group) => sum + group.labels.length, 0);
}

function toMessage(
  result: PairedHierarchicalDifference,
  metric: string,
  shared: boolean,
): PairedDifference {
  return {
    metric,
    difference: result.estimate,
    ciLow: result.low,
    ciHigh: result.high,
    standardError: result.standardError,
    pValue: result.pValue,
    pValueHolm: Number.NaN,
    detectableDifference: result.detectableDifference,
    seeds: result.perSeed.map((seed) => seed.seed),
    imagesPerSeed: Math.min(...result.perSeed.map((seed) => seed.images)),
    sharedTestSet: shared,
    perSeed: result.perSeed.map((seed) => seed.difference),
  };
}
