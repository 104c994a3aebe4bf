/**
 * The two-stage (hierarchical) bootstrap of a metric over training seeds and test images,
 * and its paired form for two configs on the same seeds and images. docs/statistics.md
 * explains the method, what its interval and p-value mean, and how well it covers.
 *
 * A resample draws the seeds with replacement, then test images with replacement (for each
 * drawn seed, or once for all of them when the seeds share a test set), scores each drawn
 * seed and averages. Metrics are scored from class tallies (correct, actual and predicted
 * counts per class) kept in typed arrays, not from arrays of samples.
 */
import type { Random } from '@masksweep/random';
import { InvalidArgumentError } from './errors.js';
import {
  type ClassTallies,
  type MetricName,
  type MetricOfOptions,
  tallyMetric,
} from './metrics.js';
import {
  type PackedSeed,
  packGroups,
  packPairedGroups,
  type SeedPredictions,
  type TestSet,
} from './seed-groups.js';
import { detectableDifference } from './significance.js';
import {
  type BootstrapOptions,
  checkBootstrapOptions,
  type Interval,
  quantileOfSorted,
} from './statistics.js';

export interface HierarchicalBootstrapOptions extends BootstrapOptions, MetricOfOptions {
  /**
   * Whether each seed was tested on its own images or all seeds on the same ones (see
   * TestSet). It decides how a resample draws images, and the wrong choice misstates the
   * interval (docs/statistics.md), so it has no default. A masksweep Sweep tests every
   * seed on one split: 'shared'.
   */
  testSet: TestSet;
}

export interface SeedValue {
  seed: number;
  /** The metric on this seed's test images. */
  value: number;
  images: number;
}

export interface HierarchicalInterval extends Interval {
  /** The mean over seeds of the per-seed metric. */
  estimate: number;
  perSeed: SeedValue[];
  /** Standard deviation of the resampled means. */
  standardError: number;
  resamples: number;
  confidence: number;
}

/**
 * The mean over seeds of a metric, with a percentile interval from the two-stage
 * bootstrap; with one seed, the ordinary bootstrap over its test images (the same draws
 * as bootstrapInterval with the same generator).
 */
export function hierarchicalBootstrap(
  groups: readonly SeedPredictions[],
  metric: MetricName,
  options: HierarchicalBootstrapOptions,
): HierarchicalInterval {
  return hierarchicalBootstrapMetrics(groups, [metric], options)[metric] as HierarchicalInterval;
}

/**
 * hierarchicalBootstrap of several metrics on the same resampled experiments: each metric's
 * interval is the one hierarchicalBootstrap gives with the same generator, at the cost of
 * one resampling (a summary of every metric of a config costs one pass, not one per metric).
 */
export function hierarchicalBootstrapMetrics(
  groups: readonly SeedPredictions[],
  metrics: readonly MetricName[],
  options: HierarchicalBootstrapOptions,
): Partial<Record<MetricName, HierarchicalInterval>> {
  const { resamples, confidence, rng } = checkBootstrapOptions(options, 2);
  if (!Array.isArray(metrics as unknown) || metrics.length === 0) {
    throw new InvalidArgumentError('metrics', 'needs at least one metric');
  }
  const scores = metrics.map((metric) => tallyMetric(metric, options));
  const numClasses = options.numClasses ?? 2;
  const seeds = packGroups('groups', groups, numClasses, options.testSet);
  const means = resampleMeans(seeds, scores, numClasses, options.testSet, { resamples, rng });
  const intervals: Partial<Record<MetricName, HierarchicalInterval>> = {};
  metrics.forEach((metric, m) => {
    const score = scores[m] as (tallies: ClassTallies) => number;
    const perSeed = seeds.map((seed) => ({
      seed: seed.seed,
      value: scoreAll(seed, 0, score, numClasses),
      images: seed.labels.length,
    }));
    const resampled = (means[0] as Float64Array[])[m] as Float64Array;
    const { low, high } = percentileInterval(resampled, confidence);
    // A metric in [0, 1] averaged over seeds stays in [0, 1], and so do quantiles of such means.
    assertWithin('interval', low, high, 0, 1);
    intervals[metric] = {
      estimate: mean(perSeed.map((seed) => seed.value)),
      low,
      high,
      perSeed,
      standardError: standardDeviation(resampled),
      resamples,
      confidence,
    };
  });
  return intervals;
}

export interface PairedHierarchicalOptions extends HierarchicalBootstrapOptions {
  /**
   * The power at which detectableDifference is stated (its level is 1 − confidence).
   * @default 0.8
   */
  power?: number;
}

export interface SeedDifference {
  seed: number;
  a: number;
  b: number;
  /** a − b on this seed's test images. */
  difference: number;
  images: number;
}

export interface PairedHierarchicalDifference extends Interval {
  /** mean over seeds of metric(A) − metric(B), i.e. a − b. */
  estimate: number;
  a: number;
  b: number;
  perSeed: SeedDifference[];
  /** Standard deviation of the resampled differences. */
  standardError: number;
  /**
   * Two-sided bootstrap p-value of "no difference":
   * min(1, 2·min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (resamples + 1)).
   */
  pValue: number;
  /**
   * The smallest true difference this comparison detects with probability `power` at level
   * 1 − confidence: (z_{1−α/2} + z_power)·standardError (see significance.ts).
   */
  detectableDifference: number;
  resamples: number;
  confidence: number;
}

/**
 * metric(A) − metric(B) for two configs run on the same seeds and tested on the same
 * images: each resample draws the seeds and images once and scores both configs on them,
 * so the interval reflects the difference and not each config's own noise.
 */
export function pairedHierarchicalDifference(
  groupsA: readonly SeedPredictions[],
  groupsB: readonly SeedPredictions[],
  metric: MetricName,
  options: PairedHierarchicalOptions,
): PairedHierarchicalDifference {
  const { resamples, confidence, rng } = checkBootstrapOptions(options, 2);
  const score = tallyMetric(metric, options);
  const numClasses = options.numClasses ?? 2;
  const { testSet } = options;
  const seeds = packPairedGroups(groupsA, groupsB, numClasses, testSet);
  const perSeed = seeds.map((seed) => {
    const a = scoreAll(seed, 0, score, numClasses);
    const b = scoreAll(seed, 1, score, numClasses);
    return { seed: seed.seed, a, b, difference: a - b, images: seed.labels.length };
  });
  const [[meansA], [meansB]] = resampleMeans(seeds, [score], numClasses, testSet, {
    resamples,
    rng,
  }) as [[Float64Array], [Float64Array]];
  return differenceOf(meansA, meansB, perSeed, { resamples, confidence, power: options.power });
}

/**
 * metric(X) − metric(R) for several configs X against one reference R (e.g. each row of a
 * table against its scratch row), all scored on the same resampled experiments: the draws
 * depend on R's seeds and images only, so each X's result is the same whichever others are
 * compared with it, and it is pairedHierarchicalDifference(R, X) negated (the same draws).
 * Every X must have R's seeds and, within each seed, R's images. Cheaper than one call per
 * X: the seeds and images are drawn, and R scored, once per resample for all of them.
 */
export function pairedHierarchicalDifferences(
  groups: ReadonlyArray<readonly SeedPredictions[]>,
  reference: readonly SeedPredictions[],
  metric: MetricName,
  options: PairedHierarchicalOptions,
): PairedHierarchicalDifference[] {
  const { resamples, confidence, rng } = checkBootstrapOptions(options, 2);
  if (!Array.isArray(groups as unknown) || groups.length === 0) {
    throw new InvalidArgumentError('groups', 'needs at least one config to compare');
  }
  const score = tallyMetric(metric, options);
  const numClasses = options.numClasses ?? 2;
  const { testSet } = options;
  // Each X aligned to R: R's seeds, R's image order; then one system per config, R first.
  const packed = groups.map((group) => packPairedGroups(reference, group, numClasses, testSet));
  const seeds = (packed[0] as PackedSeed[]).map((seed, s) => ({
    ...seed,
    predictions: [
      seed.predictions[0] as Int32Array,
      ...packed.map((pair) => (pair[s] as PackedSeed).predictions[1] as Int32Array),
    ],
  }));
  const means = resampleMeans(seeds, [score], numClasses, testSet, { resamples, rng });
  const [meansR] = means[0] as [Float64Array];
  return groups.map((_, k) => {
    const perSeed = seeds.map((seed) => {
      const a = scoreAll(seed, k + 1, score, numClasses);
      const b = scoreAll(seed, 0, score, numClasses);
      return { seed: seed.seed, a, b, difference: a - b, images: seed.labels.length };
    });
    const [meansX] = means[k + 1] as [Float64Array];
    return differenceOf(meansX, meansR, perSeed, { resamples, confidence, power: options.power });
  });
}

/** The paired result from the resampled means of A and of B. */
function differenceOf(
  meansA: Float64Array,
  meansB: Float64Array,
  perSeed: SeedDifference[],
  options: { resamples: number; confidence: number; power: number | undefined },
): PairedHierarchicalDifference {
  const { resamples, confidence } = options;
  const differences = meansA.map((a, r) => a - (meansB[r] as number));
  const { low, high } = percentileInterval(differences, confidence);
  assertWithin('difference interval', low, high, -1, 1);
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (const d of differences) {
    if (d <= 0) atOrBelow += 1;
    if (d >= 0) atOrAbove += 1;
  }
  const standardError = standardDeviation(differences);
  const a = mean(perSeed.map((seed) => seed.a));
  const b = mean(perSeed.map((seed) => seed.b));
  return {
    estimate: a - b,
    a,
    b,
    low,
    high,
    perSeed,
    standardError,
    pValue: Math.min(1, (2 * (Math.min(atOrBelow, atOrAbove) + 1)) / (resamples + 1)),
    detectableDifference: detectableDifference(standardError, {
      alpha: 1 - confidence,
      power: options.power ?? 0.8,
    }),
    resamples,
    confidence,
  };
}

interface Tallies extends ClassTallies {
  correct: Float64Array;
  actual: Float64Array;
  predicted: Float64Array;
}

function newTallies(numClasses: number): Tallies {
  return {
    correct: new Float64Array(numClasses),
    actual: new Float64Array(numClasses),
    predicted: new Float64Array(numClasses),
  };
}

/** System `system`'s metric on all of one seed's images. */
function scoreAll(
  seed: PackedSeed,
  system: number,
  score: (tallies: ClassTallies) => number,
  numClasses: number,
): number {
  const tallies = newTallies(numClasses);
  const everyImageOnce = new Int32Array(seed.labels.length).fill(1);
  tallyWeighted(tallies, seed.labels, seed.predictions[system] as Int32Array, everyImageOnce);
  return checkedValue(score(tallies));
}

/**
 * For each system and each metric, the mean over drawn seeds of the metric, once per
 * resample: means[system][metric][resample]. A resample of images is kept as how often each
 * image was drawn (its weight), so that tallying is one pass over the images whichever the
 * design. One seed is never drawn (it is always itself), so a single seed consumes the
 * generator exactly as the ordinary bootstrap over images; the draws do not depend on the
 * metrics scored.
 */
function resampleMeans(
  seeds: PackedSeed[],
  scores: ReadonlyArray<(tallies: ClassTallies) => number>,
  numClasses: number,
  testSet: TestSet,
  { resamples, rng }: { resamples: number; rng: Random },
): Float64Array[][] {
  const seedCount = seeds.length;
  const systems = (seeds[0] as PackedSeed).predictions.length;
  const metricCount = scores.length;
  const means = Array.from({ length: systems }, () =>
    Array.from({ length: metricCount }, () => new Float64Array(resamples)),
  );
  const tallies = Array.from({ length: systems }, () => newTallies(numClasses));
  const width = systems * metricCount;
  const sums = new Float64Array(width);
  // Each seed's scores (per system and metric) and the resample they were scored in: with
  // a shared test set, a seed drawn again in the same resample has the same images and
  // scores, so it is scored once (the sums are the same, and a third cheaper with 3 seeds).
  const scored = new Float64Array(seedCount * width);
  const scoredIn = new Int32Array(seedCount).fill(-1);
  const weights = new Int32Array(Math.max(...seeds.map((seed) => seed.labels.length)));
  for (let r = 0; r < resamples; r++) {
    sums.fill(0);
    // Shared test set: one draw of images for every seed of this resample.
    if (testSet === 'shared') drawWeights(weights, (seeds[0] as PackedSeed).labels.length, rng);
    for (let s = 0; s < seedCount; s++) {
      const index = seedCount === 1 ? 0 : rng.int(0, seedCount - 1);
      const seed = seeds[index] as PackedSeed;
      if (testSet === 'per-seed') drawWeights(weights, seed.labels.length, rng);
      const offset = index * width;
      if (testSet === 'per-seed' || scoredIn[index] !== r) {
        scoredIn[index] = r;
        for (let k = 0; k < systems; k++) {
          const systemTallies = tallies[k] as Tallies;
          tallyWeighted(systemTallies, seed.labels, seed.predictions[k] as Int32Array, weights);
          for (let m = 0; m < metricCount; m++) {
            scored[offset + k * metricCount + m] = (scores[m] as (t: ClassTallies) => number)(
              systemTallies,
            );
          }
        }
      }
      for (let at = 0; at < width; at++) {
        sums[at] = (sums[at] as number) + (scored[offset + at] as number);
      }
    }
    for (let k = 0; k < systems; k++) {
      for (let m = 0; m < metricCount; m++) {
        ((means[k] as Float64Array[])[m] as Float64Array)[r] =
          (sums[k * metricCount + m] as number) / seedCount;
      }
    }
  }
  return means;
}

/** n draws with replacement from n images, as a count per image. */
function drawWeights(weights: Int32Array, n: number, rng: Random): void {
  weights.fill(0, 0, n);
  for (let i = 0; i < n; i++) {
    const image = rng.int(0, n - 1);
    weights[image] = (weights[image] as number) + 1;
  }
}

/** The tallies of the images taken `weights[i]` times each. */
function tallyWeighted(
  tallies: Tallies,
  labels: Int32Array,
  predictions: Int32Array,
  weights: Int32Array,
): void {
  const { correct, actual, predicted } = tallies;
  correct.fill(0);
  actual.fill(0);
  predicted.fill(0);
  for (let image = 0; image < labels.length; image++) {
    const weight = weights[image] as number;
    if (weight === 0) continue;
    const label = labels[image] as number;
    const prediction = predictions[image] as number;
    actual[label] = (actual[label] as number) + weight;
    predicted[prediction] = (predicted[prediction] as number) + weight;
    if (label === prediction) correct[label] = (correct[label] as number) + weight;
  }
}

function percentileInterval(
  values: Float64Array,
  confidence: number,
): { low: number; high: number } {
  const sorted = values.slice().sort();
  const tail = (1 - confidence) / 2;
  return { low: quantileOfSorted(sorted, tail), high: quantileOfSorted(sorted, 1 - tail) };
}

function checkedValue(value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidArgumentError('metric', `must give values in [0, 1], got ${value}`);
  }
  return value;
}

/** A broken invariant of this module (not of the caller's input). */
function assertWithin(what: string, low: number, high: number, min: number, max: number): void {
  if (!(low >= min && high <= max && low <= high)) {
    throw new Error(`internal: ${what} [${low}, ${high}] is not within [${min}, ${max}]`);
  }
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function standardDeviation(values: Float64Array): number {
  let sum = 0;
  for (const value of values) sum += value;
  const average = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - average) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}
