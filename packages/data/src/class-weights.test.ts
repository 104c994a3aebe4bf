import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classWeights } from './class-weights.js';

describe('classWeights', () => {
  it('gives (n0 + n1) / n0 and (n0 + n1) / n1 for two classes (the paper, equation 6)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        (n0, n1) => {
          const [w0, w1] = classWeights([n0, n1]);
          expect(w0).toBeCloseTo((n0 + n1) / n0, 12);
          expect(w1).toBeCloseTo((n0 + n1) / n1, 12);
          // Every class then carries the same total weight.
          expect((w0 as number) * n0).toBeCloseTo((w1 as number) * n1, 6);
        },
      ),
    );
  });

  it('reads a Map of label counts like an array indexed by label', () => {
    expect(
      classWeights(
        new Map([
          [1, 25],
          [0, 75],
          [2, 100],
        ]),
      ),
    ).toEqual(classWeights([75, 25, 100]));
    expect(classWeights([50, 50])).toEqual([2, 2]);
  });

  it('names a class without samples, including a label missing from a Map', () => {
    expect(() => classWeights([10, 0, 5])).toThrow(/class 1 has no samples/);
    expect(() =>
      classWeights(
        new Map([
          [0, 4],
          [2, 4],
        ]),
      ),
    ).toThrow(/class 1 has no samples/);
    expect(() => classWeights([])).toThrow(/at least one class/);
    expect(() => classWeights([3, -1])).toThrow(/class 1 has an invalid sample count: -1/);
  });
});
