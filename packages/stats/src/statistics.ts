/**
 * Uncertainty for sweep results on plain numbers: percentile-bootstrap intervals of a
 * metric over evaluation samples (one run, or the paired difference of two runs), Student-t
 * intervals of a mean over seeds, and McNemar's exact test for two classifiers.
 */
import type { Random } from '@masksweep/random';
import { binomialCdf, studentTQuantile } from './distributions.js';
import { checkInteger, checkNumber, InvalidArgumentError } from './errors.js';

/** A metric of (labels, predictions), e.g. `metricOf('f1')`. */
export type SampleMetric = (labels: readonly number[], predictions: readonly number[]) => number;

export interface BootstrapOptions {
  /**
   * Number of resampled evaluation sets.
   * @default 2000
   */
  resamples?: number;
  /**
   * Coverage of the interval.
   * @default 0.95
   */
  confidence?: number;
  /** The draws come from here, so a seed fixes the interval. */
  rng: Random;
}

export interface Interval {
  /** The statistic on the full sample. */
  estimate: number;
  low: number;
  high: number;
}

export interface MeanInterval {
  mean: number;
  /** Sample standard deviation (divisor n − 1); NaN for a single value. */
  std: number;
  /** Student-t interval bounds; NaN for a single value. */
  low: number;
  high: number;
  n: number;
}

export interface McNemarResult {
  /** Samples that A gets right and B gets wrong. */
  b: number;
  /** Samples that A gets wrong and B gets right. */
  c: number;
  /** Two-sided exact binomial test of b against Binomial(b + c, 1/2). */
  pValue: number;
}

/**
 * Percentile bootstrap: resample the (label, prediction) pairs with replacement, score each
 * resample and take the (1 ± confidence)/2 quantiles (linear interpolation, NumPy's default).
 */
export function bootstrapInterval(
  labels: readonly number[],
  predictions: readonly number[],
  metric: SampleMetric,
  options: BootstrapOptions,
): Interval {
  checkPaired(labels, predictions, 'predictions');
  return bootstrap(
    labels.length,
    options,
    (take) => {
      const resampledLabels = take(labels);
      return checkedScore(metric, resampledLabels, take(predictions));
    },
    () => checkedScore(metric, labels, predictions),
  );
}

/**
 * The bootstrap interval of metric(A) − metric(B), both scored on the same resampled
 * indices each time, so the interval reflects the difference and not each run's noise.
 */
export function pairedBootstrapDifference(
  labels: readonly number[],
  predictionsA: readonly number[],
  predictionsB: readonly number[],
  metric: SampleMetric,
  options: BootstrapOptions,
): Interval {
  checkPaired(labels, predictionsA, 'predictionsA');
  checkPaired(labels, predictionsB, 'predictionsB');
  const difference = (
    someLabels: readonly number[],
    a: readonly number[],
    b: readonly number[],
  ): number => checkedScore(metric, someLabels, a) - checkedScore(metric, someLabels, b);
  return bootstrap(
    labels.length,
    options,
    (take) => difference(take(labels), take(predictionsA), take(predictionsB)),
    () => difference(labels, predictionsA, predictionsB),
  );
}

/** Mean ± t_{(1+confidence)/2, n−1}·s/√n, e.g. over the seeds of one trial. */
export function meanInterval(values: readonly number[], confidence = 0.95): MeanInterval {
  checkConfidence(confidence);
  const n = values.length;
  if (n === 0) throw new InvalidArgumentError('values', 'needs at least one value');
  values.forEach((value, index) => {
    checkNumber(`values[${index}]`, value);
  });
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  if (n === 1) return { mean, std: Number.NaN, low: Number.NaN, high: Number.NaN, n };
  const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  const std = Math.sqrt(squares / (n - 1));
  const halfWidth = (tCritical(confidence, n - 1) * std) / Math.sqrt(n);
  return { mean, std, low: mean - halfWidth, high: mean + halfWidth, n };
}

/**
 * The two-sided critical t value, remembered: a summary of a large sweep asks for the same
 * few (confidence, df) pairs thousands of times, and each bisection costs about 17 µs.
 */
const criticalValues = new Map<string, number>();
function tCritical(confidence: number, df: number): number {
  const key = `${confidence}:${df}`;
  let value = criticalValues.get(key);
  if (value === undefined) {
    value = studentTQuantile((1 + confidence) / 2, df);
    if (criticalValues.size < 10_000) criticalValues.set(key, value);
  }
  return value;
}

/**
 * McNemar's exact test: under "A and B are equally accurate" each discordant sample is
 * A's win with probability 1/2, so p = min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, 1/2).
 */
export function mcnemarExact(
  labels: readonly number[],
  predictionsA: readonly number[],
  predictionsB: readonly number[],
): McNemarResult {
  checkPaired(labels, predictionsA, 'predictionsA');
  checkPaired(labels, predictionsB, 'predictionsB');
  let b = 0;
  let c = 0;
  labels.forEach((label, index) => {
    const aCorrect = predictionsA[index] === label;
    const bCorrect = predictionsB[index] === label;
    if (aCorrect && !bCorrect) b += 1;
    else if (!aCorrect && bCorrect) c += 1;
  });
  const discordant = b + c;
  const pValue =
    discordant === 0 ? 1 : Math.min(1, 2 * binomialCdf(Math.min(b, c), discordant, 0.5));
  return { b, c, pValue };
}

/** The q-quantile of ascending `sorted` values, interpolating linearly between ranks. */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  checkNumber('q', q, { min: 0, max: 1 });
  if (sorted.length === 0) throw new InvalidArgumentError('sorted', 'needs at least one value');
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const lower = sorted[below] as number;
  return lower + (position - below) * ((sorted[above] as number) - lower);
}

type Take = <T>(values: readonly T[]) => T[];

function bootstrap(
  size: number,
  options: BootstrapOptions,
  scoreResample: (take: Take) => number,
  scoreAll: () => number,
): Interval {
  const { resamples, confidence, rng } = checkBootstrapOptions(options);
  if (size === 0) throw new InvalidArgumentError('labels', 'needs at least one sample');
  const estimate = scoreAll();
  const indices = new Array<number>(size);
  const take: Take = (values) => indices.map((index) => values[index] as (typeof values)[number]);
  const scores = new Array<number>(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < size; i++) indices[i] = rng.int(0, size - 1);
    scores[r] = scoreResample(take);
  }
  scores.sort((x, y) => x - y);
  const tail = (1 - confidence) / 2;
  return {
    estimate,
    low: quantileOfSorted(scores, tail),
    high: quantileOfSorted(scores, 1 - tail),
  };
}

/** The options with their defaults filled in, each checked. */
export function checkBootstrapOptions(
  options: BootstrapOptions,
  minResamples = 1,
): Required<BootstrapOptions> {
  const resamples = checkInteger('resamples', options.resamples ?? 2000, minResamples);
  const confidence = checkConfidence(options.confidence ?? 0.95);
  const { rng } = options;
  if (rng === undefined || typeof rng.int !== 'function') {
    throw new InvalidArgumentError('rng', 'needs a seeded Random');
  }
  return { resamples, confidence, rng };
}

function checkedScore(
  metric: SampleMetric,
  labels: readonly number[],
  predictions: readonly number[],
): number {
  const score = metric(labels, predictions);
  if (!Number.isFinite(score)) {
    throw new InvalidArgumentError('metric', `must return finite numbers, got ${score}`);
  }
  return score;
}

function checkPaired(
  labels: readonly number[],
  predictions: readonly number[],
  field: string,
): void {
  if (labels.length !== predictions.length) {
    throw new InvalidArgumentError(
      field,
      `has ${predictions.length} entries for ${labels.length} labels`,
    );
  }
}

function checkConfidence(confidence: number): number {
  return checkNumber('confidence', confidence, {
    min: 0,
    max: 1,
    minExclusive: true,
    maxExclusive: true,
  });
}
