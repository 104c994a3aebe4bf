import { lastStep, type Pruner, type Study, type StudyTrial } from './study.js';

export interface PercentilePrunerOptions {
  /**
   * Keep trials whose best value so far is in the top `percentile` at the same step.
   * @default 50 (the median rule)
   */
  percentile?: number;
  /**
   * No pruning until this many trials have completed.
   * @default 5
   */
  startupTrials?: number;
  /**
   * No pruning before this step of a trial.
   * @default 0
   */
  warmupSteps?: number;
  /**
   * Steps between pruning checks, counted from the warm-up.
   * @default 1
   */
  intervalSteps?: number;
  /**
   * No pruning at a step that fewer completed trials reported.
   * @default 1
   */
  minTrials?: number;
}

/**
 * Optuna's PercentilePruner (and MedianPruner at 50): prune a running trial when its best
 * intermediate value so far is worse than the percentile of the completed trials' values
 * at its current step. Same defaults and the same corner cases: a NaN best value prunes,
 * too few completed values at the step does not.
 */
export class PercentilePruner implements Pruner {
  readonly #options: Required<PercentilePrunerOptions>;

  constructor(options: PercentilePrunerOptions = {}) {
    const resolved = {
      percentile: 50,
      startupTrials: 5,
      warmupSteps: 0,
      intervalSteps: 1,
      minTrials: 1,
      // an option given as undefined keeps its default
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    };
    const { percentile, startupTrials, warmupSteps, intervalSteps, minTrials } = resolved;
    if (!(percentile >= 0 && percentile <= 100))
      throw new RangeError(`percentile: must be in [0, 100], got ${percentile}`);
    checkInteger('startupTrials', startupTrials, 0);
    checkInteger('warmupSteps', warmupSteps, 0);
    checkInteger('intervalSteps', intervalSteps, 1);
    checkInteger('minTrials', minTrials, 1);
    this.#options = resolved;
  }

  shouldPrune(study: Study, trial: StudyTrial): boolean {
    const { percentile, startupTrials, warmupSteps, intervalSteps, minTrials } = this.#options;
    const completed = study.completed();
    if (completed.length === 0 || completed.length < startupTrials) return false;
    const step = lastStep(trial);
    if (step === undefined || step < warmupSteps) return false;
    if (!isFirstReportInInterval(trial, step, warmupSteps, intervalSteps)) return false;

    const best = bestValue([...trial.intermediate.values()], study.direction);
    if (Number.isNaN(best)) return true;
    const atStep = completed.flatMap((t) => {
      const value = t.intermediate.get(step);
      return value === undefined ? [] : [value];
    });
    if (atStep.length < minTrials) return false;
    const threshold = nanPercentile(
      atStep,
      study.direction === 'maximize' ? 100 - percentile : percentile,
    );
    if (Number.isNaN(threshold)) return false;
    return study.direction === 'maximize' ? best < threshold : best > threshold;
  }
}

/** Optuna's MedianPruner: the percentile rule at 50 with its defaults. */
export class MedianPruner extends PercentilePruner {
  constructor(options: Omit<PercentilePrunerOptions, 'percentile'> = {}) {
    super({ ...options, percentile: 50 });
  }
}

/** Checks happen at the first report at or after each interval boundary. */
function isFirstReportInInterval(
  trial: StudyTrial,
  step: number,
  warmupSteps: number,
  intervalSteps: number,
): boolean {
  const boundary = Math.floor((step - warmupSteps) / intervalSteps) * intervalSteps + warmupSteps;
  let previous = -1;
  for (const s of trial.intermediate.keys()) if (s > previous && s !== step) previous = s;
  return previous < boundary;
}

/** The best of the values ignoring NaN (NaN when all are NaN), as numpy's nanmax/nanmin. */
function bestValue(values: number[], direction: 'maximize' | 'minimize'): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return Number.NaN;
  return direction === 'maximize' ? Math.max(...finite) : Math.min(...finite);
}

/** numpy.nanpercentile with its default linear interpolation. */
export function nanPercentile(values: readonly number[], percentile: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const position = ((sorted.length - 1) * percentile) / 100;
  const low = Math.floor(position);
  const high = Math.min(low + 1, sorted.length - 1);
  const fraction = position - low;
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return fraction === 0 ? a : a + (b - a) * fraction;
}

export function checkInteger(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${field}: must be an integer >= ${min}, got ${value}`);
}
