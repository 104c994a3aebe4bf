/**
 * Samplers that suggest a trial's parameters from the trials so far: random, and TPE with
 * the semantics and defaults of Optuna's TPESampler (optuna/samplers/_tpe/sampler.py,
 * Optuna 3.1). A suggestion is a pure function of (seed, trial number, space, history):
 * each trial draws from its own stream, derived from the sampler's seed and the trial's
 * number, so a driver that rebuilds the history after a restart suggests the same trials.
 */
import { deriveSeed, Random } from '@masksweep/random';
import type { Direction, TrialState } from '../study.js';
import {
  type Distribution,
  type JsonValue,
  sampleUniform,
  toExternal,
  toInternal,
} from './distributions.js';
import { ParzenEstimator, type ParzenOptions } from './parzen.js';
import { isActive, type Params, type SearchParameter } from './search-space.js';

/** A trial as the sampler learns from it. */
export interface ObservedTrial {
  /** The searched parameters the trial ran with (external values). */
  readonly params: Params;
  readonly state: TrialState;
  /** The objective of a complete trial. */
  readonly value?: number;
  /** A pruned trial's reports by step: Optuna ranks it by its last one. */
  readonly intermediate?: ReadonlyMap<number, number>;
}

export interface SuggestRequest {
  readonly space: readonly SearchParameter[];
  /** Earlier trials, in the order they were created. */
  readonly history: readonly ObservedTrial[];
  /** The new trial's number (0 for the first), which picks its random stream. */
  readonly trialNumber: number;
  /** Values fixed for this trial that conditions may read (e.g. `method`). */
  readonly fixed?: Params;
}

export interface Sampler {
  suggest(request: SuggestRequest): Record<string, JsonValue>;
}

/** Every parameter drawn uniformly (in log space for log ones), as Optuna's RandomSampler. */
export class RandomSampler implements Sampler {
  constructor(readonly seed: number) {}

  suggest({ space, trialNumber, fixed = {} }: SuggestRequest): Record<string, JsonValue> {
    const random = new Random(deriveSeed(this.seed, 'random', trialNumber));
    const chosen: Record<string, JsonValue> = {};
    for (const parameter of space) {
      if (!isActive(parameter, chosen, fixed)) continue;
      chosen[parameter.name] = sampleUniform(parameter.distribution, random.fork(parameter.name));
    }
    return chosen;
  }
}

export interface TpeOptions {
  readonly seed: number;
  readonly direction: Direction;
  /** Trials drawn at random before TPE takes over (Optuna: 10). */
  readonly nStartupTrials?: number;
  /** Candidates drawn from l(x), the best one by l(x)/g(x) kept (Optuna: 24). */
  readonly nEiCandidates?: number;
  /** Weight of the prior kernel (Optuna: 1). */
  readonly priorWeight?: number;
  /** Outermost kernels as wide as their gap to the range's end (Optuna: false). */
  readonly considerEndpoints?: boolean;
  /** Parameters every finished trial has are sampled jointly (Optuna: false). */
  readonly multivariate?: boolean;
  /** With multivariate: jointly within groups of parameters that always occur together. */
  readonly group?: boolean;
  /** Running trials count as the worst (Optuna's constant liar; default false). */
  readonly constantLiar?: boolean;
}

/** Optuna's default gamma: how many observations are "below" (good), min(⌈0.1 n⌉, 25). */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** A parameter's internal values over the observations, NaN where a trial lacks it. */
function internalColumn(
  name: string,
  distribution: Distribution,
  observed: ReadonlyArray<{ trial: ObservedTrial }>,
): Float64Array {
  const column = new Float64Array(observed.length);
  for (let i = 0; i < observed.length; i++) {
    const value = (observed[i] as { trial: ObservedTrial }).trial.params[name];
    column[i] =
      value === undefined
        ? Number.NaN
        : distribution.type === 'categorical'
          ? toInternal(distribution, value)
          : (value as number);
  }
  return column;
}

/** An observation's rank key: (step key, loss), compared in that order; lower is better. */
type Score = readonly [number, number];

/**
 * Flags the best `count` observations (by step key, then loss, then age: Optuna's stable
 * sort), the ones l(x) is fitted to.
 */
function splitBelow(observed: ReadonlyArray<{ score: Score }>, count: number): Uint8Array {
  const isBetter = (i: number, j: number) => {
    const a = (observed[i] as { score: Score }).score;
    const b = (observed[j] as { score: Score }).score;
    return a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && i < j)));
  };
  // The best `count` so far, best first: a partial insertion sort, as count is at most 25.
  const best: number[] = [];
  for (let i = 0; i < observed.length; i++) {
    if (best.length === count && (count === 0 || !isBetter(i, best[count - 1] as number))) continue;
    let at = best.length;
    while (at > 0 && isBetter(i, best[at - 1] as number)) at--;
    best.splice(at, 0, i);
    if (best.length > count) best.pop();
  }
  const isBelow = new Uint8Array(observed.length);
  for (const index of best) isBelow[index] = 1;
  return isBelow;
}

/** Optuna 3.1's TPESampler defaults: the one home of these numbers (the Sweep's schema reads them). */
export const TPE_DEFAULTS = {
  nStartupTrials: 10,
  nEiCandidates: 24,
  priorWeight: 1,
  considerEndpoints: false,
  multivariate: false,
  group: false,
  constantLiar: false,
} as const satisfies Required<Omit<TpeOptions, 'seed' | 'direction'>>;

export class TpeSampler implements Sampler {
  readonly #options: Required<TpeOptions>;
  readonly #parzen: ParzenOptions;

  constructor(options: TpeOptions) {
    this.#options = { ...TPE_DEFAULTS, ...options };
    if (this.#options.group && !this.#options.multivariate) {
      throw new RangeError('group: needs multivariate (as in Optuna)');
    }
    this.#parzen = {
      priorWeight: this.#options.priorWeight,
      considerEndpoints: this.#options.considerEndpoints,
      multivariate: this.#options.multivariate,
    };
  }

  suggest({ space, history, trialNumber, fixed = {} }: SuggestRequest): Record<string, JsonValue> {
    const random = new Random(deriveSeed(this.#options.seed, 'tpe', trialNumber));
    const observed = this.#observations(history);
    const finished = observed.filter((o) => o.score[0] < Number.POSITIVE_INFINITY).length;
    const distributions = new Map(space.map((p) => [p.name, p.distribution]));
    const isBelow = splitBelow(observed, defaultGamma(finished));
    // Each parameter's values over the observations, made once per suggestion.
    const columns = new Map<string, Float64Array>();
    const columnOf = (name: string) => {
      let column = columns.get(name);
      if (!column) {
        column = internalColumn(name, distributions.get(name) as Distribution, observed);
        columns.set(name, column);
      }
      return column;
    };
    const chosen: Record<string, JsonValue> = {};
    if (this.#options.multivariate && finished >= this.#options.nStartupTrials) {
      for (const group of this.#relativeGroups(space, history)) {
        const joint = new Map(group.map((name) => [name, distributions.get(name) as Distribution]));
        const drawn = this.#sampleJointly(
          joint,
          columnOf,
          isBelow,
          random.fork('relative', ...group),
        );
        for (const [name, value] of drawn) chosen[name] = value;
      }
    }
    const independent: Record<string, JsonValue> = {};
    for (const parameter of space) {
      if (!isActive(parameter, independent, fixed)) continue;
      const { name, distribution } = parameter;
      const value =
        name in chosen
          ? (chosen[name] as JsonValue)
          : finished < this.#options.nStartupTrials
            ? sampleUniform(distribution, random.fork(name))
            : this.#sampleJointly(
                new Map([[name, distribution]]),
                columnOf,
                isBelow,
                random.fork(name),
              ).get(name);
      independent[name] = value as JsonValue;
    }
    return independent;
  }

  /** The trials TPE learns from, with their rank keys (Optuna's `_get_observation_pairs`). */
  #observations(history: readonly ObservedTrial[]): Array<{ trial: ObservedTrial; score: Score }> {
    const sign = this.#options.direction === 'minimize' ? 1 : -1;
    const observed: Array<{ trial: ObservedTrial; score: Score }> = [];
    for (const trial of history) {
      let score: Score;
      if (trial.state === 'complete') {
        if (trial.value === undefined) continue;
        score = [Number.NEGATIVE_INFINITY, sign * trial.value];
      } else if (trial.state === 'pruned') {
        // Ranked after every complete trial, deeper ones first, then by their last report.
        let step: number | undefined;
        for (const s of trial.intermediate?.keys() ?? [])
          if (step === undefined || s > step) step = s;
        if (step === undefined) score = [1, 0];
        else {
          const last = trial.intermediate?.get(step) as number;
          score = [-step, Number.isNaN(last) ? Number.POSITIVE_INFINITY : sign * last];
        }
      } else if (trial.state === 'running' && this.#options.constantLiar) {
        score = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
      } else continue;
      observed.push({ trial, score });
    }
    return observed;
  }

  /**
   * The parameters sampled jointly: those every complete or pruned trial has, in one group,
   * or with `group`, split into the sets that always occur together (Optuna's intersection
   * and group-decomposed search spaces).
   */
  #relativeGroups(
    space: readonly SearchParameter[],
    history: readonly ObservedTrial[],
  ): string[][] {
    const sets = history
      .filter((t) => t.state === 'complete' || t.state === 'pruned')
      .map((t) => Object.keys(t.params).filter((name) => space.some((p) => p.name === name)));
    if (sets.length === 0) return [];
    if (!this.#options.group) {
      const common = space
        .map((p) => p.name)
        .filter((name) => sets.every((set) => set.includes(name)));
      return common.length > 0 ? [common] : [];
    }
    let groups: string[][] = [];
    for (const set of sets) {
      let rest = set;
      const next: string[][] = [];
      for (const group of groups) {
        next.push(
          group.filter((name) => rest.includes(name)),
          group.filter((name) => !set.includes(name)),
        );
        rest = rest.filter((name) => !group.includes(name));
      }
      next.push(rest);
      groups = next.filter((group) => group.length > 0);
    }
    const order = space.map((p) => p.name);
    return groups.map((group) => [...group].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
  }

  /**
   * TPE on the given parameters: split the observations into the best γ(n) and the rest,
   * fit l(x) to the first and g(x) to the second, draw candidates from l and keep the one
   * with the highest l(x)/g(x).
   */
  #sampleJointly(
    space: ReadonlyMap<string, Distribution>,
    columnOf: (name: string) => Float64Array,
    isBelow: Uint8Array,
    random: Random,
  ): Map<string, JsonValue> {
    const names = [...space.keys()];
    const columns = names.map(columnOf);
    const belowColumns = names.map((): number[] => []);
    const aboveColumns = names.map((): number[] => []);
    const firstColumn = columns[0] as Float64Array;
    for (let index = 0; index < isBelow.length; index++) {
      // Trials without the (first) parameter are left out, as Optuna masks them.
      if (Number.isNaN(firstColumn[index])) continue;
      const side = isBelow[index] ? belowColumns : aboveColumns;
      for (let p = 0; p < names.length; p++) {
        (side[p] as number[]).push((columns[p] as Float64Array)[index] as number);
      }
    }
    const below = new Map(names.map((name, p) => [name, belowColumns[p] as number[]]));
    const above = new Map(names.map((name, p) => [name, aboveColumns[p] as number[]]));
    // A multivariate sampler uses Scott's bandwidths for its independent draws too, as Optuna.
    const l = new ParzenEstimator(below, space, this.#parzen);
    const g = new ParzenEstimator(above, space, this.#parzen);
    const candidates = l.sample(random, this.#options.nEiCandidates);
    const logL = l.logPdf(candidates);
    const logG = g.logPdf(candidates);
    let best = 0;
    for (let i = 1; i < logL.length; i++) {
      if (
        (logL[i] as number) - (logG[i] as number) >
        (logL[best] as number) - (logG[best] as number)
      )
        best = i;
    }
    return new Map(
      names.map((name) => [
        name,
        toExternal(space.get(name) as Distribution, candidates.get(name)?.[best] as number),
      ]),
    );
  }
}
