import { checkInteger } from './percentile-pruner.js';
import { lastStep, type Pruner, type Study, type StudyTrial } from './study.js';

export interface AshaPrunerOptions {
  /**
   * Steps before the first rung; 'auto' takes 1/100 of the longest completed trial, as
   * Optuna does (no pruning until a trial has completed).
   * @default 'auto'
   */
  minResource?: number | 'auto';
  /**
   * Keep the top 1/reductionFactor at each rung; rung r ends at minResource * factor^r.
   * @default 4
   */
  reductionFactor?: number;
  /** @default 0 */
  minEarlyStoppingRate?: number;
  /**
   * Prune until at least this many trials reached a rung (needs a fixed minResource).
   * @default 0
   */
  bootstrapCount?: number;
}

/**
 * Optuna's SuccessiveHalvingPruner (asynchronous successive halving): when a trial passes
 * a rung's step it records its value there and goes on only if that value is in the top
 * 1/reductionFactor of all values recorded at the rung so far (the best one while fewer
 * than reductionFactor trials reached it).
 */
export class AshaPruner implements Pruner {
  #minResource: number | undefined;
  readonly #reductionFactor: number;
  readonly #minEarlyStoppingRate: number;
  readonly #bootstrapCount: number;

  constructor(options: AshaPrunerOptions = {}) {
    const {
      minResource = 'auto',
      reductionFactor = 4,
      minEarlyStoppingRate = 0,
      bootstrapCount = 0,
    } = options;
    if (minResource !== 'auto') checkInteger('minResource', minResource, 1);
    checkInteger('reductionFactor', reductionFactor, 2);
    checkInteger('minEarlyStoppingRate', minEarlyStoppingRate, 0);
    checkInteger('bootstrapCount', bootstrapCount, 0);
    if (bootstrapCount > 0 && minResource === 'auto')
      throw new RangeError('bootstrapCount: needs a fixed minResource, not auto');
    this.#minResource = minResource === 'auto' ? undefined : minResource;
    this.#reductionFactor = reductionFactor;
    this.#minEarlyStoppingRate = minEarlyStoppingRate;
    this.#bootstrapCount = bootstrapCount;
  }

  shouldPrune(study: Study, trial: StudyTrial): boolean {
    const step = lastStep(trial);
    if (step === undefined) return false;
    const value = trial.intermediate.get(step) as number;
    // The rung values of the other trials as they were before this check.
    const others = [...study.trials()].map((t) => [...t.completedRungs]);
    let rung = trial.completedRungs.length;
    for (;;) {
      this.#minResource ??= estimateMinResource(study);
      if (this.#minResource === undefined) return false;
      const promotionStep =
        this.#minResource * this.#reductionFactor ** (this.#minEarlyStoppingRate + rung);
      if (step < promotionStep) return false;
      if (Number.isNaN(value)) return true;
      trial.completedRungs[rung] = value;
      const competing = others.flatMap((rungs) =>
        rung < rungs.length ? [rungs[rung] as number] : [],
      );
      competing.push(value);
      if (competing.length <= this.#bootstrapCount) return true;
      if (!this.#promotable(value, competing, study.direction)) return true;
      rung += 1;
    }
  }

  #promotable(value: number, competing: number[], direction: Study['direction']): boolean {
    // While fewer than reductionFactor trials reached the rung, only the best goes on.
    const index = Math.max(Math.floor(competing.length / this.#reductionFactor) - 1, 0);
    competing.sort((a, b) => a - b);
    return direction === 'maximize'
      ? value >= (competing[competing.length - 1 - index] as number)
      : value <= (competing[index] as number);
  }
}

/** 1/100 of the longest completed trial's last step (at least 1), as Optuna's 'auto'. */
function estimateMinResource(study: Study): number | undefined {
  const steps = study.completed().flatMap((t) => {
    const last = lastStep(t);
    return last === undefined ? [] : [last];
  });
  if (steps.length === 0) return undefined;
  return Math.max(Math.floor(Math.max(...steps) / 100), 1);
}
