import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LearningRateScheduleOptions, learningRateAt, weightDecayAt } from './schedule.js';

// SparK ConvNeXt-S in MMPreTrain: lr 1.6e-3, 40 warm-up epochs of 800 (here 10 iterations each).
const spark: LearningRateScheduleOptions = {
  baseLr: 1.6e-3,
  warmupSteps: 400,
  totalSteps: 8000,
  schedule: 'cosine',
};

describe('learningRateAt', () => {
  it('warms up linearly from baseLr * 1e-4 to baseLr', () => {
    expect(learningRateAt(0, spark)).toBeCloseTo(1.6e-7, 15);
    expect(learningRateAt(200, spark)).toBeCloseTo(1.6e-3 * (1e-4 + (1 - 1e-4) * 0.5), 15);
    expect(learningRateAt(400, spark)).toBeCloseTo(1.6e-3, 15);
  });

  it('follows a cosine from baseLr to minLr after warm-up and then stays at minLr', () => {
    const options = { ...spark, minLr: 1e-5 };
    expect(learningRateAt(400, options)).toBeCloseTo(1.6e-3, 15);
    expect(learningRateAt(4200, options)).toBeCloseTo((1.6e-3 + 1e-5) / 2, 15);
    // A quarter of the way: (1 + cos(pi/4)) / 2 of the range above minLr.
    expect(learningRateAt(2300, options)).toBeCloseTo(
      1e-5 + (1.6e-3 - 1e-5) * ((1 + Math.SQRT1_2) / 2),
      15,
    );
    expect(learningRateAt(8000, options)).toBe(1e-5);
    expect(learningRateAt(9000, options)).toBe(1e-5);
    expect(learningRateAt(8000, spark)).toBe(0);
  });

  it('rises during warm-up and never rises afterwards', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 600 }),
        (warmupSteps, decaySteps, step) => {
          const options = { ...spark, warmupSteps, totalSteps: warmupSteps + decaySteps };
          const here = learningRateAt(step, options);
          const next = learningRateAt(step + 1, options);
          expect(here).toBeGreaterThanOrEqual(0);
          expect(here).toBeLessThanOrEqual(spark.baseLr * (1 + 1e-12));
          if (step + 1 <= warmupSteps) expect(next).toBeGreaterThan(here);
          else expect(next).toBeLessThanOrEqual(here);
        },
      ),
    );
  });

  it('holds baseLr after warm-up with the constant schedule', () => {
    const options = { ...spark, schedule: 'constant' as const };
    expect(learningRateAt(0, options)).toBeCloseTo(1.6e-7, 15);
    expect(learningRateAt(400, options)).toBe(1.6e-3);
    expect(learningRateAt(7999, options)).toBe(1.6e-3);
    expect(learningRateAt(20_000, options)).toBe(1.6e-3);
  });

  it('starts at baseLr without warm-up and honours another start factor', () => {
    expect(learningRateAt(0, { ...spark, warmupSteps: 0 })).toBe(1.6e-3);
    expect(learningRateAt(0, { ...spark, warmupStartFactor: 1e-3 })).toBeCloseTo(1.6e-6, 15);
  });

  it('names the field it rejects', () => {
    expect(() => learningRateAt(-1, spark)).toThrow(/^step: must be >= 0/);
    expect(() => learningRateAt(0, { ...spark, baseLr: Number.NaN })).toThrow(/^baseLr:/);
    expect(() => learningRateAt(0, { ...spark, warmupSteps: 1.5 })).toThrow(/^warmupSteps:/);
    expect(() => learningRateAt(0, { ...spark, totalSteps: 0 })).toThrow(/^totalSteps:/);
    expect(() => learningRateAt(0, { ...spark, totalSteps: 100 })).toThrow(
      /^totalSteps: must be >= warmupSteps \(400\)/,
    );
    expect(() =>
      learningRateAt(0, { ...spark, schedule: 'step' as LearningRateScheduleOptions['schedule'] }),
    ).toThrow(/^schedule:/);
    expect(() => learningRateAt(0, { ...spark, warmupStartFactor: 2 })).toThrow(
      /^warmupStartFactor:/,
    );
    expect(() => learningRateAt(0, { ...spark, minLr: 1 })).toThrow(/^minLr: must be <= 0.0016/);
  });
});

describe('weightDecayAt', () => {
  const options = { base: 0.04, final: 0.2, totalSteps: 8000 };

  it('anneals from base up to final along a cosine (SparK: 0.04 to 0.2)', () => {
    expect(weightDecayAt(0, options)).toBeCloseTo(0.04, 15);
    expect(weightDecayAt(4000, options)).toBeCloseTo(0.12, 15);
    expect(weightDecayAt(2000, options)).toBeCloseTo(0.2 - 0.16 * ((1 + Math.SQRT1_2) / 2), 15);
    expect(weightDecayAt(8000, options)).toBeCloseTo(0.2, 15);
    expect(weightDecayAt(12_000, options)).toBeCloseTo(0.2, 15);
  });

  it('moves monotonically towards final', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9000 }), (step) => {
        expect(weightDecayAt(step + 1, options)).toBeGreaterThanOrEqual(
          weightDecayAt(step, options),
        );
        const falling = { base: 0.05, final: 0, totalSteps: 8000 };
        expect(weightDecayAt(step + 1, falling)).toBeLessThanOrEqual(weightDecayAt(step, falling));
      }),
    );
  });

  it('names the field it rejects', () => {
    expect(() => weightDecayAt(0, { ...options, base: -0.1 })).toThrow(/^base:/);
    expect(() => weightDecayAt(0, { ...options, final: Number.POSITIVE_INFINITY })).toThrow(
      /^final:/,
    );
    expect(() => weightDecayAt(0, { ...options, totalSteps: 0 })).toThrow(/^totalSteps:/);
    expect(() => weightDecayAt(Number.NaN, options)).toThrow(/^step:/);
  });
});
