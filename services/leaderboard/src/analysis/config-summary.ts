/**
 * One config's results summarised over its seeds. Test metrics: each seed's value, the
 * mean, and the percentile interval of the two-stage bootstrap over seeds and test images,
 * scored from the stored predictions (docs/statistics.md). Validation metrics: each seed's
 * value and the mean (validation predictions are not stored, so no interval). Also what
 * paired comparisons and the trivial classifiers need of the config: its predictions by
 * seed, and which test set they are on.
 */
import { createHash } from 'node:crypto';
import { metricName } from '@masksweep/api/contracts';
import type { MetricSummary } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  type HierarchicalInterval,
  hierarchicalBootstrapMetrics,
  METRIC_NAMES,
  type MetricName,
  type SeedPredictions,
  type TestSet,
} from '@masksweep/stats';
import type { ConfigSummary } from '../store/types.js';

/** The metrics predictions can score, by their wire names (`macro_f1`). */
export const SCORED_METRICS: ReadonlyMap<string, MetricName> = new Map(
  METRIC_NAMES.map((name) => [metricName(name), name]),
);

/** Resampled experiments per interval and comparison. */
export const RESAMPLES = 2000;

/** One stored result of a config, as a summary reads it. */
export interface StoredSeed {
  trial: string;
  seed: number;
  /** Test metrics. */
  metrics: Record<string, number>;
  valMetrics: Record<string, number>;
  numClasses: number;
  /** Test predictions in sample id order; empty when none were stored. */
  sampleIds: string[];
  labels: number[];
  predictions: number[];
}

/** What comparisons and trivial classifiers need of a config's test predictions. */
export interface ConfigPredictions {
  configKey: string;
  numClasses: number;
  /** One group per seed; empty unless every seed of the config has stored predictions. */
  groups: SeedPredictions[];
  /** How the seeds were tested; undefined without predictions. */
  design: TestSet | undefined;
  /** Names the seeds' test sets (sample ids and labels); empty without predictions. */
  testSet: string;
}

export type SeedSummary = Omit<ConfigSummary, 'config'>;

export interface SummaryOptions {
  confidence: number;
  resamples?: number;
}

/** `seeds` are one config's stored results, in ascending seed order. */
export function summarizeConfig(
  configKey: string,
  seeds: readonly StoredSeed[],
  options: SummaryOptions,
): { summary: SeedSummary; predictions: ConfigPredictions } {
  const predictions = configPredictions(configKey, seeds);
  const intervals = testIntervals(predictions, options);
  const metrics: Record<string, MetricSummary> = {};
  for (const name of metricNames(seeds.map((seed) => seed.metrics))) {
    metrics[name] = metricSummary(
      seeds.map((seed) => seed.metrics[name]),
      intervals?.get(name),
    );
  }
  const valMetrics: Record<string, MetricSummary> = {};
  for (const name of metricNames(seeds.map((seed) => seed.valMetrics))) {
    valMetrics[name] = metricSummary(
      seeds.map((seed) => seed.valMetrics[name]),
      undefined,
    );
  }
  const first = predictions.groups[0];
  return {
    summary: {
      metrics,
      valMetrics,
      seeds: seeds.map((seed) => seed.seed),
      trials: seeds.map((seed) => seed.trial),
      testImages: first ? Math.min(...predictions.groups.map((g) => g.labels.length)) : 0,
      testSet: predictions.testSet,
      sharedTestSet: predictions.design === 'shared',
    },
    predictions,
  };
}

/**
 * The per-seed values (in seed order) with their mean and spread, and the interval when one
 * is given (its per-seed values must be of the same seeds, in the same order).
 */
export function metricSummary(
  values: ReadonlyArray<number | undefined>,
  interval: HierarchicalInterval | undefined,
): MetricSummary {
  // With an interval, each seed's value is the one its predictions score (what the trial
  // reported, from the same predictions), so the mean is the bootstrap's estimate.
  const perSeed = interval
    ? interval.perSeed.map((seed) => seed.value)
    : values.map((value) =>
        typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN,
      );
  const present = perSeed.filter((value) => !Number.isNaN(value));
  const n = present.length;
  const mean = n === 0 ? Number.NaN : present.reduce((sum, value) => sum + value, 0) / n;
  const std =
    n < 2
      ? Number.NaN
      : Math.sqrt(present.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1));
  return {
    mean,
    std,
    ciLow: interval?.low ?? Number.NaN,
    ciHigh: interval?.high ?? Number.NaN,
    n,
    perSeed,
    standardError: interval?.standardError ?? Number.NaN,
  };
}

/**
 * Test intervals of every scored metric the config reports, all from one resampling (its
 * generator forked from the config key, so a config's intervals do not depend on the
 * others). Undefined when some seed has no stored predictions.
 */
function testIntervals(
  predictions: ConfigPredictions,
  options: SummaryOptions,
): Map<string, HierarchicalInterval> | undefined {
  const { groups, design } = predictions;
  if (groups.length === 0 || design === undefined) return undefined;
  const names = [...SCORED_METRICS.keys()];
  const scored = hierarchicalBootstrapMetrics(
    groups,
    names.map((name) => SCORED_METRICS.get(name) as MetricName),
    {
      testSet: design,
      numClasses: predictions.numClasses,
      resamples: options.resamples ?? RESAMPLES,
      confidence: options.confidence,
      rng: new Random(0).fork('summary', predictions.configKey),
    },
  );
  return new Map(
    names.map((name) => [
      name,
      scored[SCORED_METRICS.get(name) as MetricName] as HierarchicalInterval,
    ]),
  );
}

/**
 * The config's predictions by seed. A Sweep tests every seed on the split of
 * `datasets.splitSeed`, so its seeds share a test set ('shared'); seeds tested on different
 * images are resampled per seed.
 */
function configPredictions(configKey: string, seeds: readonly StoredSeed[]): ConfigPredictions {
  const numClasses = Math.max(2, ...seeds.map((seed) => seed.numClasses));
  const complete = seeds.length > 0 && seeds.every((seed) => seed.labels.length > 0);
  if (!complete) return { configKey, numClasses, groups: [], design: undefined, testSet: '' };
  const groups = seeds.map((seed) => ({
    seed: seed.seed,
    sampleIds: seed.sampleIds,
    labels: seed.labels,
    predictions: seed.predictions,
  }));
  const setKeys = groups.map(testSetOf);
  const distinct = [...new Set(setKeys)];
  return {
    configKey,
    numClasses,
    groups,
    design: distinct.length === 1 ? 'shared' : 'per-seed',
    testSet: distinct.length === 1 ? (distinct[0] as string) : digest(distinct.sort().join('|')),
  };
}

/** A name for one seed's test images and their labels. */
function testSetOf(group: SeedPredictions): string {
  const ids = group.sampleIds ?? [];
  return digest(ids.map((id, i) => `${id}\u0000${group.labels[i]}`).join('\u0001'));
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function metricNames(records: ReadonlyArray<Record<string, number>>): string[] {
  const names = new Set<string>();
  for (const record of records) for (const name in record) names.add(name);
  return [...names].sort();
}
