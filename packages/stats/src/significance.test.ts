import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectableDifference, holm } from './significance.js';

describe('holm', () => {
  it('matches hand-worked examples', () => {
    // MultipleTesting.jl's documented example: sorted p·(m − rank + 1) = 0.004, 0.03, 0.06, 0.5.
    expectClose(holm([0.001, 0.01, 0.03, 0.5]), [0.004, 0.03, 0.06, 0.5]);
    // Unsorted input; 4·0.005 = 0.02, 3·0.01 = 0.03, 2·0.03 = 0.06, 1·0.04 = 0.04 is raised to
    // 0.06 so that a larger p-value never gets a smaller adjusted one (R's p.adjust agrees).
    expectClose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]);
    // Capped at 1: 2·0.6 = 1.2 -> 1, and the next 0.7 is raised to 1.
    expectClose(holm([0.7, 0.6]), [1, 1]);
    // Ties: both 0.02 get 3·0.02 = 0.06 (the larger factor of the tied pair, then the max).
    expectClose(holm([0.02, 0.5, 0.02]), [0.06, 0.5, 0.06]);
    expect(holm([])).toEqual([]);
    expect(holm([0.2])).toEqual([0.2]);
  });

  it('never lowers a p-value, keeps the order of the p-values and stays <= 1', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (ps) => {
        const adjusted = holm(ps);
        ps.forEach((p, i) => {
          const q = adjusted[i] as number;
          expect(q).toBeGreaterThanOrEqual(p);
          expect(q).toBeLessThanOrEqual(1);
          expect(q).toBeLessThanOrEqual(Math.min(1, p * ps.length) + 1e-15);
          ps.forEach((other, j) => {
            if (p < other) expect(q).toBeLessThanOrEqual(adjusted[j] as number);
          });
        });
      }),
    );
  });

  it('rejects what is not a p-value, naming it', () => {
    expect(() => holm([0.1, 1.5])).toThrow(/^pValues\[1\]: must be <= 1/);
    expect(() => holm([Number.NaN])).toThrow(/^pValues\[0\]:/);
  });
});

describe('detectableDifference', () => {
  it('is (z_0.975 + z_0.8) times the standard error at the defaults', () => {
    // scipy.stats.norm.ppf(0.975) + norm.ppf(0.8) = 1.959963984540054 + 0.8416212335729143.
    expect(detectableDifference(0.01)).toBeCloseTo(0.028015852181129685, 8);
    expect(detectableDifference(1, { alpha: 0.01, power: 0.9 })).toBeCloseTo(
      2.5758293035489004 + 1.2815515655446004,
      8,
    );
    expect(detectableDifference(0)).toBe(0);
  });

  it('rejects a bad standard error, level or power', () => {
    expect(() => detectableDifference(-1)).toThrow(/^standardError:/);
    expect(() => detectableDifference(0.1, { alpha: 0 })).toThrow(/^alpha:/);
    expect(() => detectableDifference(0.1, { power: 1 })).toThrow(/^power:/);
  });
});

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((value, i) => {
    expect(actual[i]).toBeCloseTo(value, 12);
  });
}
