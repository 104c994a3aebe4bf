/**
 * Two configs of a sweep compared on their predictions, on the seeds both have and the test
 * images both predicted: the paired two-stage bootstrap of metric(A) − metric(B) with its
 * p-value and detectable difference (./paired.ts), and McNemar's exact test on the pooled
 * (seed, sample) pairs as a second figure. A query over the store.
 */
import { metricName } from '@masksweep/api/contracts';
import type { CompareConfigsResponse } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import { mcnemarExact, type SeedPredictions } from '@masksweep/stats';
import { InvalidRequestError, NotFoundError } from '../errors.js';
import { requireSweep, type Statements } from '../store/statements.js';
import type { CompareConfigsInput } from '../store/types.js';
import { requireConfidence, requireInteger, requireName } from '../store/validate.js';
import { type ConfigPredictions, SCORED_METRICS } from './config-summary.js';
import { alignPair, pairedDifference } from './paired.js';

/** A metric as the request names it (`macro_f1` or `macroF1`) by its wire name, if scored. */
function comparedMetric(name: string): string | undefined {
  if (SCORED_METRICS.has(name)) return name;
  const wire = metricName(name);
  return SCORED_METRICS.get(wire) === name ? wire : undefined;
}

export function compareConfigs(
  statements: Statements,
  request: CompareConfigsInput,
): CompareConfigsResponse {
  const namespace = requireName('namespace', request.namespace);
  const sweep = requireName('sweep', request.sweep);
  const keyA = requireName('config_key_a', request.configKeyA);
  const keyB = requireName('config_key_b', request.configKeyB);
  const metric = comparedMetric(request.metric || 'f1');
  if (metric === undefined) {
    throw new InvalidRequestError(
      'metric',
      `must be one of ${[...SCORED_METRICS.keys()].join(', ')}, got ${JSON.stringify(request.metric)}`,
    );
  }
  const resamples = requireInteger('resamples', request.resamples || 2000, 2, 100_000);
  const confidence = requireConfidence('confidence', request.confidence);
  const seed = requireInteger('seed', request.seed ?? 0, 0, 2 ** 32 - 1);
  requireSweep(statements, namespace, sweep);

  const a = configPredictions(statements, namespace, sweep, keyA, 'config_key_a');
  const b = configPredictions(statements, namespace, sweep, keyB, 'config_key_b');
  const pairing = alignPair(a, b);
  if (!pairing.ok) throw new InvalidRequestError('config_key_b', pairing.reason);
  const { pair } = pairing;
  const paired = pairedDifference(pair, metric, {
    numClasses: a.numClasses,
    confidence,
    resamples,
    rng: new Random(seed),
  });
  const pooled = (groups: SeedPredictions[], pick: 'labels' | 'predictions') =>
    groups.flatMap((group) => group[pick]);
  const mcnemar = mcnemarExact(
    pooled(pair.groupsA, 'labels'),
    pooled(pair.groupsA, 'predictions'),
    pooled(pair.groupsB, 'predictions'),
  );
  return {
    pairedSamples: pair.groupsA.reduce((sum, group) => sum + group.labels.length, 0),
    difference: paired.difference,
    ciLow: paired.ciLow,
    ciHigh: paired.ciHigh,
    onlyACorrect: mcnemar.b,
    onlyBCorrect: mcnemar.c,
    mcnemarPValue: mcnemar.pValue,
    pairedDifference: paired,
  };
}

/** A config's stored test predictions by seed (seeds without predictions left out). */
function configPredictions(
  statements: Statements,
  namespace: string,
  sweep: string,
  configKey: string,
  field: string,
): ConfigPredictions {
  const rows = statements.configPredictions.all(namespace, sweep, configKey);
  if (rows.length === 0 && !statements.configExists.get(namespace, sweep, configKey)) {
    throw new NotFoundError(
      field,
      `no results of config ${JSON.stringify(configKey)} in sweep ${JSON.stringify(sweep)}`,
    );
  }
  // Rows come by seed and sample id. A trial name is unique per (config, seed), so a second
  // trial with the same seed would be an inconsistent report: its rows are left out.
  const groups: SeedPredictions[] = [];
  let numClasses = 2;
  let current: (SeedPredictions & { sampleIds: string[] }) | undefined;
  const seen = new Set<string>();
  for (const row of rows) {
    numClasses = row.num_classes;
    if (current?.seed !== row.seed) {
      current = { seed: row.seed, sampleIds: [], labels: [], predictions: [] };
      groups.push(current);
      seen.clear();
    }
    if (seen.has(row.sample_id)) continue;
    seen.add(row.sample_id);
    current.sampleIds.push(row.sample_id);
    (current.labels as number[]).push(row.label);
    (current.predictions as number[]).push(row.predicted);
  }
  return {
    configKey,
    numClasses,
    groups,
    design: undefined,
    testSet: '',
  };
}
