/**
 * The distributions a searched parameter is drawn from, with Optuna's meaning
 * (optuna/distributions.py): a float (uniform or log-uniform, optionally on a grid of
 * `step`), an int (optionally log or on a `step` grid), or a categorical over any JSON
 * values. Samplers work on an internal number per parameter: the value itself for floats
 * and ints, the choice's index for a categorical.
 */
import type { Random } from '@masksweep/random';

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export interface FloatDistribution {
  readonly type: 'float';
  readonly low: number;
  readonly high: number;
  /** Uniform in log space (low > 0); excludes `step`. */
  readonly log?: boolean;
  /** Values low, low + step, ..., high; `high - low` must be a multiple of it. */
  readonly step?: number;
}

export interface IntDistribution {
  readonly type: 'int';
  readonly low: number;
  readonly high: number;
  /** Uniform in log space (low >= 1); only with step 1. */
  readonly log?: boolean;
  /** 1 unless given. */
  readonly step?: number;
}

export interface CategoricalDistribution {
  readonly type: 'categorical';
  readonly choices: readonly JsonValue[];
}

export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

/** A numeric distribution's step, or undefined for a continuous float. */
export function stepOf(distribution: FloatDistribution | IntDistribution): number | undefined {
  return distribution.type === 'int' ? (distribution.step ?? 1) : distribution.step;
}

/**
 * What is wrong with a distribution, each message starting with the field it names
 * (`low`, `high`, `step`, `log`, `choices`); empty when it is usable.
 */
export function distributionProblems(distribution: Distribution): string[] {
  if (distribution.type === 'categorical') {
    return distribution.choices.length === 0 ? ['choices: must hold at least one value'] : [];
  }
  const { low, high, log } = distribution;
  const problems: string[] = [];
  const integer = distribution.type === 'int';
  for (const [field, value] of [
    ['low', low],
    ['high', high],
  ] as const) {
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      problems.push(`${field}: must be a finite ${integer ? 'integer' : 'number'}, got ${value}`);
    }
  }
  if (problems.length > 0) return problems;
  if (low >= high) problems.push(`high: must be greater than low (${low}), got ${high}`);
  if (log && low <= 0) problems.push(`low: must be > 0 for a log distribution, got ${low}`);
  const step = stepOf(distribution);
  if (distribution.step !== undefined) {
    if (
      !(step !== undefined && step > 0 && Number.isFinite(step)) ||
      (integer && !Number.isInteger(step))
    ) {
      problems.push(
        `step: must be a positive ${integer ? 'integer' : 'number'}, got ${distribution.step}`,
      );
    } else if (log && (!integer || step !== 1)) {
      problems.push('log: cannot be combined with a step (Optuna refuses it too)');
    } else if (low < high && !isMultiple(high - low, step)) {
      problems.push(`high: high - low (${high - low}) must be a multiple of step (${step})`);
    }
  }
  return problems;
}

function isMultiple(span: number, step: number): boolean {
  const ratio = span / step;
  return Math.abs(ratio - Math.round(ratio)) <= 1e-8 * Math.max(1, ratio);
}

/** The internal number of an external value: a categorical's choice index (-1 if none). */
export function toInternal(distribution: Distribution, value: JsonValue): number {
  if (distribution.type !== 'categorical') return value as number;
  const key = canonical(value);
  return distribution.choices.findIndex((choice) => canonical(choice) === key);
}

/** The external value of an internal number. */
export function toExternal(distribution: Distribution, internal: number): JsonValue {
  if (distribution.type === 'categorical') return distribution.choices[internal] as JsonValue;
  return distribution.type === 'int' ? Math.round(internal) : internal;
}

/** Whether the value is one the distribution can give. */
export function contains(distribution: Distribution, value: JsonValue): boolean {
  if (distribution.type === 'categorical') return toInternal(distribution, value) >= 0;
  if (typeof value !== 'number' || value < distribution.low || value > distribution.high) {
    return false;
  }
  const step = stepOf(distribution);
  if (distribution.type === 'int' && !Number.isInteger(value)) return false;
  return (
    step === undefined || distribution.log === true || isMultiple(value - distribution.low, step)
  );
}

/** Whether two JSON values are equal (objects whatever their key order). */
export function sameJson(a: JsonValue, b: JsonValue): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys, so equal values compare equal whatever their key order. */
function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key] as JsonValue)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The numeric range a sampler draws in, as Optuna's search-space transform has it: log
 * space for log distributions, widened by half a step on each side for stepped ones so
 * that rounding gives every grid value the same share.
 */
export function drawRange(distribution: FloatDistribution | IntDistribution): [number, number] {
  const { low, high, log } = distribution;
  const step = stepOf(distribution);
  if (log) {
    return distribution.type === 'int'
      ? [Math.log(low - 0.5), Math.log(high + 0.5)]
      : [Math.log(low), Math.log(high)];
  }
  return step === undefined ? [low, high] : [low - step / 2, high + step / 2];
}

/**
 * The parameter value of a number drawn in `drawRange`: back from log space, onto the step
 * grid (rounding half to even, as numpy does) and into [low, high]; a continuous float
 * stays below `high`, as Optuna keeps it.
 */
export function fromDrawn(
  distribution: FloatDistribution | IntDistribution,
  drawn: number,
): number {
  const { low, high, log } = distribution;
  const step = stepOf(distribution);
  if (distribution.type === 'int') {
    if (log) return clip(roundHalfEven(Math.exp(drawn)), low, high);
    return clip(
      roundHalfEven((drawn - low) / (step as number)) * (step as number) + low,
      low,
      high,
    );
  }
  if (log) return Math.min(Math.exp(drawn), nextDown(high));
  if (step !== undefined) {
    // 12 significant digits: 0.4 + 3 x 0.1 is 0.7000000000000001 in binary, which would
    // name another config (and pre-training run) than a grid's 0.7. Optuna keeps the bits.
    const value = roundHalfEven((drawn - low) / step) * step + low;
    return clip(Number(value.toPrecision(12)), low, high);
  }
  return Math.min(drawn, nextDown(high));
}

/** A value drawn uniformly, as Optuna's RandomSampler draws it. */
export function sampleUniform(distribution: Distribution, random: Random): JsonValue {
  if (distribution.type === 'categorical') {
    return distribution.choices[random.int(0, distribution.choices.length - 1)] as JsonValue;
  }
  const [low, high] = drawRange(distribution);
  return fromDrawn(distribution, random.uniform(low, high));
}

export function clip(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

/** Rounds to the nearest integer, ties to the even one (numpy's `round`). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

const FLOAT = new Float64Array(1);
const BITS = new BigInt64Array(FLOAT.buffer);

/** The largest double below a positive finite `x` (numpy's nextafter(x, -inf)). */
function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  FLOAT[0] = x;
  BITS[0] = (BITS[0] as bigint) + (x > 0 ? -1n : 1n);
  return FLOAT[0] as number;
}
