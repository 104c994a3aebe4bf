import { describe, expect, it } from 'vitest';
import { stagePlan } from './batches.js';

const stage = {
  epochs: 10,
  batchSize: 4,
  lr: 1e-3,
  weightDecay: 0.04,
  warmupEpochs: 1,
  schedule: 'cosine' as const,
};

describe('stagePlan', () => {
  it('counts whole batches per epoch and warms the learning rate up', () => {
    const plan = stagePlan(stage, 42);
    expect(plan.stepsPerEpoch).toBe(10);
    expect(plan.totalSteps).toBe(100);
    expect(plan.lrAt(0)).toBeLessThan(plan.lrAt(9));
    expect(plan.lrAt(10)).toBeCloseTo(1e-3, 9);
  });

  it('keeps the weight decay constant unless weightDecayEnd is set', () => {
    const constant = stagePlan(stage, 40);
    expect([0, 50, 100].map(constant.weightDecayAt)).toEqual([0.04, 0.04, 0.04]);
  });

  it("anneals the weight decay by a cosine from weightDecay to weightDecayEnd (SparK's 0.04 to 0.2)", () => {
    const annealed = stagePlan({ ...stage, weightDecayEnd: 0.2 }, 40);
    expect(annealed.weightDecayAt(0)).toBeCloseTo(0.04, 12);
    expect(annealed.weightDecayAt(50)).toBeCloseTo(0.12, 12);
    expect(annealed.weightDecayAt(100)).toBeCloseTo(0.2, 12);
    expect(annealed.weightDecayAt(25)).toBeCloseTo(
      0.2 - (0.16 * (1 + Math.cos(Math.PI / 4))) / 2,
      12,
    );
  });
});
