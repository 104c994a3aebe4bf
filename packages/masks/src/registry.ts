import type { Random } from '@masksweep/random';
import type { TObject, TProperties } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MaskOptionError, type MaskProblem } from './errors.js';
import type { MaskGrid } from './grid.js';

/**
 * The axis a pattern is swept over: a mask ratio in (0, 1) (random, mesh, block-wise) or
 * a square side in patches (square). A Sweep lists the values as `ratios` or `sizes`.
 */
export type MaskAxis = 'ratio' | 'size';

/** One mask setting, fully resolved: its type, axis value and every option with defaults. */
export interface MaskSetting {
  type: string;
  ratio?: number;
  size?: number;
  [option: string]: unknown;
}

export interface MaskPattern<Options extends TProperties = TProperties> {
  readonly type: string;
  readonly axis: MaskAxis;
  readonly summary: string;
  /** The pattern's options other than its axis, each with its default. */
  readonly options: TObject<Options>;
  /** Problems with a resolved setting on a grid of this size; empty when it can be generated. */
  check(setting: MaskSetting, gridSize: number): MaskProblem[];
  /** One mask per image of a batch (some options choose once per batch). */
  generate(setting: MaskSetting, gridSize: number, batchSize: number, rng: Random): MaskGrid[];
}

const patterns = new Map<string, MaskPattern>();

export function registerMaskPattern(pattern: MaskPattern): void {
  if (patterns.has(pattern.type))
    throw new Error(`mask type '${pattern.type}' is registered twice`);
  patterns.set(pattern.type, pattern);
}

export function maskTypes(): string[] {
  return [...patterns.keys()];
}

export function getMaskPattern(type: string): MaskPattern {
  const pattern = patterns.get(type);
  if (!pattern) {
    throw new MaskOptionError(
      'type',
      `unknown mask type '${type}'; known types: ${maskTypes().join(', ')}`,
    );
  }
  return pattern;
}

/**
 * Fills in the defaults of a setting and checks it against the grid. Throws
 * MaskOptionError naming the first bad field.
 */
export function resolveMaskSetting(setting: MaskSetting, gridSize: number): MaskSetting {
  const pattern = getMaskPattern(setting.type);
  const { type, [pattern.axis]: axisValue, ...rest } = setting;
  for (const key of Object.keys(rest)) {
    if (!(key in pattern.options.properties)) {
      throw new MaskOptionError(
        key,
        `not an option of mask type '${type}' (options: ${optionNames(pattern)})`,
      );
    }
  }
  checkAxisValue(pattern.axis, axisValue);
  const options = Value.Default(pattern.options, structuredClone(rest)) as Record<string, unknown>;
  const error = Value.Errors(pattern.options, options).First();
  if (error) throw new MaskOptionError(error.path.slice(1) || 'options', error.message);
  const resolved: MaskSetting = { type, [pattern.axis]: axisValue, ...options };
  const problem = pattern.check(resolved, gridSize)[0];
  if (problem) throw new MaskOptionError(problem.field, problem.message);
  return resolved;
}

function checkAxisValue(axis: MaskAxis, value: unknown): void {
  if (axis === 'ratio' && !(typeof value === 'number' && value > 0 && value < 1)) {
    throw new MaskOptionError(
      'ratio',
      `must be a number strictly between 0 and 1, got ${JSON.stringify(value)}`,
    );
  }
  if (axis === 'size' && !(typeof value === 'number' && Number.isInteger(value) && value >= 1)) {
    throw new MaskOptionError(
      'size',
      `must be a whole number of patches >= 1, got ${JSON.stringify(value)}`,
    );
  }
}

function optionNames(pattern: MaskPattern): string {
  return [pattern.axis, ...Object.keys(pattern.options.properties)].join(', ');
}

/** A short name for people: `random 0.6`, `mesh 0.7`, `square 2x2`. */
export function maskLabel(setting: MaskSetting): string {
  return setting.size !== undefined
    ? `${setting.type} ${setting.size}x${setting.size}`
    : `${setting.type} ${setting.ratio}`;
}

export interface MaskGenerator {
  readonly setting: MaskSetting;
  readonly gridSize: number;
  generate(batchSize: number, rng: Random): MaskGrid[];
}

/** A generator for one setting on one grid; the setting is resolved and checked once here. */
export function createMaskGenerator(setting: MaskSetting, gridSize: number): MaskGenerator {
  const resolved = resolveMaskSetting(setting, gridSize);
  const pattern = getMaskPattern(resolved.type);
  return {
    setting: resolved,
    gridSize,
    generate: (batchSize, rng) => pattern.generate(resolved, gridSize, batchSize, rng),
  };
}
