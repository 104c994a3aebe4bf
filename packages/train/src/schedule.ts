/**
 * Per-iteration learning-rate and weight-decay schedules as in MMPreTrain's SparK configs:
 * LinearLR warm-up, then CosineAnnealingLR, and CosineAnnealingWeightDecay
 * (docs/algorithms.md#optimisers-and-schedules). Both are closed forms of the step, so a resumed
 * run needs only the step number.
 */
import { checkInteger, checkNumber, InvalidArgumentError } from '@masksweep/stats';

export type LearningRateShape = 'cosine' | 'constant';

export interface LearningRateScheduleOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  baseLr: number;
  /** Iterations of linear warm-up; 0 starts at baseLr. */
  warmupSteps: number;
  /** Iteration at which the cosine reaches minLr. */
  totalSteps: number;
  /** 'cosine' decays to minLr after warm-up; 'constant' holds baseLr. */
  schedule: LearningRateShape;
  /**
   * Fraction of baseLr the warm-up starts from (MMPreTrain LinearLR `start_factor`).
   * @default 1e-4
   */
  warmupStartFactor?: number;
  /**
   * Learning rate at totalSteps (CosineAnnealingLR `eta_min`).
   * @default 0
   */
  minLr?: number;
}

export interface WeightDecayScheduleOptions {
  /** Weight decay at step 0 (0.04 for SparK). */
  base: number;
  /** Weight decay at totalSteps (0.2 for SparK: it grows). */
  final: number;
  totalSteps: number;
}

/**
 * The learning rate for iteration `step` (0-based): baseLr·(s + (1 − s)·step/warmupSteps)
 * during warm-up, then minLr + (baseLr − minLr)·(1 + cos(π·t/T))/2 with t counted from the
 * end of warm-up and T = totalSteps − warmupSteps; minLr from totalSteps on.
 */
export function learningRateAt(step: number, options: LearningRateScheduleOptions): number {
  checkNumber('step', step, { min: 0 });
  const baseLr = checkNumber('baseLr', options.baseLr, { min: 0 });
  const warmupSteps = checkInteger('warmupSteps', options.warmupSteps);
  const totalSteps = checkInteger('totalSteps', options.totalSteps, 1);
  if (totalSteps < warmupSteps) {
    throw new InvalidArgumentError(
      'totalSteps',
      `must be >= warmupSteps (${warmupSteps}), got ${totalSteps}`,
    );
  }
  if (options.schedule !== 'cosine' && options.schedule !== 'constant') {
    throw new InvalidArgumentError(
      'schedule',
      `must be 'cosine' or 'constant', got ${String(options.schedule)}`,
    );
  }
  // MMEngine's LinearLR rejects start factors outside [0, 1] too.
  const startFactor = checkNumber('warmupStartFactor', options.warmupStartFactor ?? 1e-4, {
    min: 0,
    max: 1,
  });
  const minLr = checkNumber('minLr', options.minLr ?? 0, { min: 0, max: baseLr });

  if (step < warmupSteps) {
    return baseLr * (startFactor + ((1 - startFactor) * step) / warmupSteps);
  }
  if (options.schedule === 'constant') return baseLr;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
  return minLr + ((baseLr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}

/**
 * The weight decay for iteration `step`: final + (base − final)·(1 + cos(π·t/T))/2, held at
 * `final` from totalSteps on. Parameters excluded from decay stay at 0 (the optimizer's rule).
 */
export function weightDecayAt(step: number, options: WeightDecayScheduleOptions): number {
  checkNumber('step', step, { min: 0 });
  const base = checkNumber('base', options.base, { min: 0 });
  const final = checkNumber('final', options.final, { min: 0 });
  const totalSteps = checkInteger('totalSteps', options.totalSteps, 1);
  const progress = Math.min(step, totalSteps) / totalSteps;
  return final + ((base - final) * (1 + Math.cos(Math.PI * progress))) / 2;
}
