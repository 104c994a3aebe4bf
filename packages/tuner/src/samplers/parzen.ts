/**
 * The Parzen estimator TPE builds from one side of the split: a weighted mixture with one
 * kernel per observation plus a prior kernel, over one or several parameters. Numeric
 * parameters get truncated-normal kernels in the draw space (log space for log
 * distributions, the range widened by half a step for stepped ones, whose density is the
 * kernel's mass on the value's step cell); categoricals get a smoothed one-hot kernel.
 * After optuna/samplers/_tpe/parzen_estimator.py (Optuna 3.1), with its defaults: a prior
 * of weight 1, the "magic clip" of bandwidths, endpoints not considered.
 */
import type { Random } from '@masksweep/random';
import { type Distribution, drawRange, fromDrawn, stepOf } from './distributions.js';
import { logGaussMass, truncnormPpf } from './truncnorm.js';

export interface ParzenOptions {
  readonly priorWeight: number;
  readonly considerEndpoints: boolean;
  /** One bandwidth per parameter by Scott's rule, shared by all kernels (multivariate TPE). */
  readonly multivariate: boolean;
}

/** Optuna's default weights: 1 for the newest 25 observations, a ramp from 1/n before. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const weights: number[] = [];
  for (let i = 0; i < ramp; i++)
    weights.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) weights.push(1);
  return weights;
}

interface NumericKernels {
  readonly type: 'numeric';
  readonly low: number;
  readonly high: number;
  readonly step: number | undefined;
  readonly mus: Float64Array;
  readonly sigmas: Float64Array;
  readonly inverseSigmas: Float64Array;
  /** The kernels' centres in increasing order, and which kernel each one is. */
  readonly sortedMus: Float64Array;
  readonly byRank: Int32Array;
  /** log of each kernel's mass inside [low, high]. */
  readonly logMassInside: Float64Array;
  /** log of each kernel's density factor: -log(√(2π) · mass inside), as Optuna 3.1. */
  readonly logNormaliser: Float64Array;
}

interface CategoricalKernels {
  readonly type: 'categorical';
  /** Kernel k's probability of choice c at [k * choices + c]. */
  readonly probabilities: Float64Array;
  readonly choices: number;
}

type Kernels = NumericKernels | CategoricalKernels;

export class ParzenEstimator {
  readonly #names: readonly string[];
  readonly #space: ReadonlyMap<string, Distribution>;
  readonly #kernels: Kernels[];
  /** Mixture weights, normalised; the prior is the last kernel. */
  readonly #weights: Float64Array;
  readonly #logWeights: Float64Array;

  /**
   * @param observations per parameter, the internal values of the observed trials, oldest
   *   first (weights favour the newest), all of one length.
   */
  constructor(
    observations: ReadonlyMap<string, readonly number[]>,
    space: ReadonlyMap<string, Distribution>,
    options: ParzenOptions,
  ) {
    this.#names = [...space.keys()];
    this.#space = space;
    const n = observations.get(this.#names[0] as string)?.length ?? 0;
    const weights = new Float64Array(n + 1);
    weights.set(defaultWeights(n));
    weights[n] = options.priorWeight;
    let total = 0;
    for (let k = 0; k <= n; k++) total += weights[k] as number;
    const logWeights = new Float64Array(n + 1);
    for (let k = 0; k <= n; k++) {
      weights[k] = (weights[k] as number) / total;
      logWeights[k] = Math.log(weights[k] as number);
    }
    this.#weights = weights;
    this.#logWeights = logWeights;
    // Scott's rule, as BOHB uses it: one bandwidth factor for all kernels of all parameters.
    const sigma0 = options.multivariate
      ? 0.2 * Math.max(n, 1) ** (-1 / (this.#names.length + 4))
      : undefined;
    this.#kernels = this.#names.map((name) => {
      const distribution = space.get(name) as Distribution;
      const values = observations.get(name) ?? [];
      return distribution.type === 'categorical'
        ? categoricalKernels(values, distribution.choices.length, options.priorWeight)
        : numericKernels(values, distribution, options, sigma0);
    });
  }

  /** `size` draws from the mixture, as internal values per parameter. */
  sample(random: Random, size: number): Map<string, number[]> {
    const cumulative: number[] = [];
    let sum = 0;
    for (const w of this.#weights) {
      sum += w;
      cumulative.push(sum);
    }
    const active: number[] = [];
    for (let i = 0; i < size; i++) {
      const u = random.float() * sum;
      let k = cumulative.findIndex((c) => u < c);
      if (k < 0) k = cumulative.length - 1;
      active.push(k);
    }
    const samples = new Map<string, number[]>();
    this.#names.forEach((name, p) => {
      const kernels = this.#kernels[p] as Kernels;
      const distribution = this.#space.get(name) as Distribution;
      samples.set(
        name,
        active.map((k) => {
          if (kernels.type === 'categorical') {
            const u = random.float();
            let cumulativeProbability = 0;
            for (let c = 0; c < kernels.choices; c++) {
              cumulativeProbability += kernels.probabilities[k * kernels.choices + c] as number;
              if (cumulativeProbability >= u) return c;
            }
            return kernels.choices - 1;
          }
          const mu = kernels.mus[k] as number;
          const sigma = kernels.sigmas[k] as number;
          const z = truncnormPpf(
            random.float(),
            (kernels.low - mu) / sigma,
            (kernels.high - mu) / sigma,
          );
          return fromDrawn(
            distribution as Exclude<Distribution, { type: 'categorical' }>,
            mu + sigma * z,
          );
        }),
      );
    });
    return samples;
  }

  /**
   * The log density of one continuous parameter's mixture, visiting kernels outward from
   * each point in order of their centres and stopping where even the widest, heaviest
   * kernel would fall under e^-40 of the largest term so far: the same sum as over all
   * kernels, without the far ones (with thousands of observations, most of them).
   */
  #logPdfNearby(kernels: NumericKernels, xs: readonly number[]): Float64Array {
    const { mus, inverseSigmas, logNormaliser, sortedMus, byRank } = kernels;
    const m = mus.length;
    const prior = m - 1;
    const constants = new Float64Array(m);
    let largestConstant = Number.NEGATIVE_INFINITY;
    let smallestInverse = Number.POSITIVE_INFINITY;
    for (let k = 0; k < m; k++) {
      constants[k] = (logNormaliser[k] as number) + (this.#logWeights[k] as number);
      if (k === prior) continue;
      largestConstant = Math.max(largestConstant, constants[k] as number);
      smallestInverse = Math.min(smallestInverse, inverseSigmas[k] as number);
    }
    const terms = new Float64Array(m);
    const result = new Float64Array(xs.length);
    xs.forEach((x, i) => {
      const term = (k: number) => {
        const z = (x - (mus[k] as number)) * (inverseSigmas[k] as number);
        return -0.5 * z * z + (constants[k] as number);
      };
      let count = 0;
      let max = term(prior);
      terms[count++] = max;
      // No kernel at distance d from x can exceed this.
      const far = (d: number) => {
        const z = d * smallestInverse;
        return -0.5 * z * z + largestConstant < max - NEGLIGIBLE;
      };
      let start = 0;
      let end = m;
      while (start < end) {
        const middle = (start + end) >> 1;
        if ((sortedMus[middle] as number) < x) start = middle + 1;
        else end = middle;
      }
      for (let r = start; r < m; r++) {
        if (far((sortedMus[r] as number) - x)) break;
        const k = byRank[r] as number;
        if (k === prior) continue;
        const v = term(k);
        terms[count++] = v;
        if (v > max) max = v;
      }
      for (let r = start - 1; r >= 0; r--) {
        if (far(x - (sortedMus[r] as number))) break;
        const k = byRank[r] as number;
        if (k === prior) continue;
        const v = term(k);
        terms[count++] = v;
        if (v > max) max = v;
      }
      const floor = max - NEGLIGIBLE;
      let sum = 0;
      for (let t = 0; t < count; t++) {
        const v = terms[t] as number;
        if (v > floor) sum += Math.exp(v - max);
      }
      result[i] = Math.log(sum) + max;
    });
    return result;
  }

  /** The mixture's log density at each of the given points (internal values). */
  logPdf(points: ReadonlyMap<string, readonly number[]>): Float64Array {
    const only = this.#kernels[0];
    if (this.#kernels.length === 1 && only?.type === 'numeric' && only.step === undefined) {
      const distribution = this.#space.get(this.#names[0] as string) as Distribution;
      const values = points.get(this.#names[0] as string) ?? [];
      return this.#logPdfNearby(
        only,
        values.map((value) => toDrawSpace(distribution, value)),
      );
    }
    const size = points.get(this.#names[0] as string)?.length ?? 0;
    const components = this.#weights.length;
    // Row i holds point i's log density under each kernel, plus the kernel's log weight.
    const table = new Float64Array(size * components);
    for (let i = 0; i < size; i++) table.set(this.#logWeights, i * components);
    this.#names.forEach((name, p) => {
      const kernels = this.#kernels[p] as Kernels;
      const distribution = this.#space.get(name) as Distribution;
      const values = points.get(name) as readonly number[];
      for (let i = 0; i < size; i++) {
        const row = i * components;
        if (kernels.type === 'categorical') {
          const choice = values[i] as number;
          for (let k = 0; k < components; k++) {
            table[row + k] += Math.log(
              kernels.probabilities[k * kernels.choices + choice] as number,
            );
          }
          continue;
        }
        const x = toDrawSpace(distribution, values[i] as number);
        const { mus, sigmas, logNormaliser, step, low, high } = kernels;
        if (step === undefined) {
          const { inverseSigmas } = kernels;
          for (let k = 0; k < components; k++) {
            const z = (x - (mus[k] as number)) * (inverseSigmas[k] as number);
            table[row + k] += -0.5 * z * z + (logNormaliser[k] as number);
          }
          continue;
        }
        // A stepped value's density is its kernel's mass on the value's step cell.
        const upper = Math.min(x + step / 2, high);
        const lower = Math.max(x - step / 2, low);
        for (let k = 0; k < components; k++) {
          const mu = mus[k] as number;
          const sigma = sigmas[k] as number;
          table[row + k] +=
            logGaussMass((lower - mu) / sigma, (upper - mu) / sigma) -
            (kernels.logMassInside[k] as number);
        }
      }
    });
    const result = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const start = i * components;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = start; k < start + components; k++) max = Math.max(max, table[k] as number);
      if (max === Number.NEGATIVE_INFINITY) {
        result[i] = max;
        continue;
      }
      // Terms under e^-40 of the largest change the sum by less than a double resolves:
      // skipping their exp gives the same number, and most kernels are that far from a point.
      const floor = max - NEGLIGIBLE;
      let sum = 0;
      for (let k = start; k < start + components; k++) {
        const v = table[k] as number;
        if (v > floor) sum += Math.exp(v - max);
      }
      result[i] = Math.log(sum) + max;
    }
    return result;
  }
}

const LOG_SQRT_TWO_PI = 0.5 * Math.log(2 * Math.PI);
/** Terms this far (in log) under the largest are below what a double sum resolves. */
const NEGLIGIBLE = 40;

/** An internal value in the space the kernels live in (log space for log distributions). */
function toDrawSpace(distribution: Distribution, value: number): number {
  return distribution.type !== 'categorical' && distribution.log ? Math.log(value) : value;
}

function categoricalKernels(
  values: readonly number[],
  choices: number,
  priorWeight: number,
): CategoricalKernels {
  const n = values.length;
  const probabilities = new Float64Array((n + 1) * choices).fill(priorWeight / (n + 1));
  values.forEach((choice, k) => {
    probabilities[k * choices + choice] += 1;
  });
  for (let k = 0; k <= n; k++) {
    const row = probabilities.subarray(k * choices, (k + 1) * choices);
    const total = row.reduce((sum, p) => sum + p, 0);
    for (let c = 0; c < choices; c++) row[c] = (row[c] as number) / total;
  }
  return { type: 'categorical', probabilities, choices };
}

function numericKernels(
  values: readonly number[],
  distribution: Exclude<Distribution, { type: 'categorical' }>,
  options: ParzenOptions,
  sigma0: number | undefined,
): NumericKernels {
  const [low, high] = drawRange(distribution);
  const n = values.length;
  const mus = new Float64Array(n + 1);
  values.forEach((value, k) => {
    mus[k] = toDrawSpace(distribution, value);
  });
  mus[n] = 0.5 * (low + high);
  // Ranks by value, the range's ends around them; equal values take their places in the
  // run in index order (a stable sort, which numpy's argsort is up to 16 values).
  const m = n + 1;
  const sorted = new Float64Array(m + 2);
  sorted.set(mus, 1);
  sorted.subarray(1, m + 1).sort();
  sorted[0] = low;
  sorted[m + 1] = high;
  const byRank = new Int32Array(m);
  const rankOf = new Int32Array(m);
  const taken = new Map<number, number>();
  for (let k = 0; k < m; k++) {
    const value = mus[k] as number;
    let lo = 1;
    let hi = m + 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    let before = 0;
    if (lo + 1 <= m && sorted[lo + 1] === value) {
      before = taken.get(value) ?? 0;
      taken.set(value, before + 1);
    }
    rankOf[k] = lo + before;
    byRank[lo + before - 1] = k;
  }
  const sigmas = new Float64Array(m);
  if (sigma0 !== undefined) {
    sigmas.fill(sigma0 * (high - low));
  } else {
    // Each kernel as wide as the larger gap to its neighbours (the range's ends count as
    // neighbours); with endpoints not considered, the outermost use their inner gap.
    for (let k = 0; k < m; k++) {
      const r = rankOf[k] as number;
      let gap = Math.max(
        (sorted[r] as number) - (sorted[r - 1] as number),
        (sorted[r + 1] as number) - (sorted[r] as number),
      );
      if (!options.considerEndpoints && m >= 2) {
        if (r === 1) gap = (sorted[2] as number) - (sorted[1] as number);
        else if (r === m) gap = (sorted[m] as number) - (sorted[m - 1] as number);
      }
      sigmas[k] = gap;
    }
  }
  // The magic clip: no kernel narrower than the range over min(100, kernels + 1).
  const maxSigma = high - low;
  const minSigma = (high - low) / Math.min(100, n + 2);
  for (let k = 0; k <= n; k++)
    sigmas[k] = Math.min(Math.max(sigmas[k] as number, minSigma), maxSigma);
  sigmas[n] = high - low;
  const logMassInside = new Float64Array(n + 1);
  const logNormaliser = new Float64Array(n + 1);
  const inverseSigmas = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) {
    inverseSigmas[k] = 1 / (sigmas[k] as number);
    const mu = mus[k] as number;
    const sigma = sigmas[k] as number;
    logMassInside[k] = logGaussMass((low - mu) / sigma, (high - mu) / sigma);
    // Optuna 3.1 leaves out the kernel's -log σ (optuna#5109; Optuna 3.5 adds it): kernel k
    // then weighs w_k·σ_k in l(x) and g(x), which searched better here (docs/search.md).
    logNormaliser[k] = -LOG_SQRT_TWO_PI - (logMassInside[k] as number);
  }
  return {
    type: 'numeric',
    low,
    high,
    step: stepOf(distribution) === undefined || distribution.log ? undefined : stepOf(distribution),
    mus,
    sigmas,
    logMassInside,
    logNormaliser,
    inverseSigmas,
    sortedMus: sorted.subarray(1, m + 1),
    byRank,
  };
}
