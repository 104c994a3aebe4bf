import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binomialCdf,
  lnGamma,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
} from './distributions.js';

// Reference values computed with SciPy 1.17 (stats.t.ppf, special.betainc, stats.binom.cdf).

describe('lnGamma', () => {
  it('matches factorials and Γ(1/2) = √π', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 14);
    expect(lnGamma(2)).toBeCloseTo(0, 14);
    expect(lnGamma(10)).toBeCloseTo(Math.log(362_880), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(lnGamma(0.1)).toBeCloseTo(Math.log(9.513507698668732), 12);
    expect(() => lnGamma(0)).toThrow(/^x:/);
  });

  it('satisfies Γ(x + 1) = x·Γ(x)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 200, noNaN: true }), (x) => {
        expect(lnGamma(x + 1) - lnGamma(x)).toBeCloseTo(Math.log(x), 10);
      }),
    );
  });
});

describe('regularizedIncompleteBeta', () => {
  it('matches known values and closed forms', () => {
    expect(regularizedIncompleteBeta(0.3, 2.5, 3.5)).toBeCloseTo(0.29675298929566646, 13);
    expect(regularizedIncompleteBeta(0.9, 0.5, 0.5)).toBeCloseTo(0.7951672353008665, 13);
    expect(regularizedIncompleteBeta(0.45, 50, 60)).toBeCloseTo(0.4642352914306031, 12);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
    expect(() => regularizedIncompleteBeta(1.5, 2, 3)).toThrow(/^x:/);
    expect(() => regularizedIncompleteBeta(0.5, 0, 3)).toThrow(/^a:/);
  });

  it('gives x^a for b = 1, and 1 − I_{1−x}(b, a) by symmetry', () => {
    fc.assert(
      fc.property(
        // Away from 0 and 1, where rounding 1 − x in the test itself would lose digits.
        fc.double({ min: 1e-3, max: 1 - 1e-3, noNaN: true }),
        fc.double({ min: 0.1, max: 30, noNaN: true }),
        fc.double({ min: 0.1, max: 30, noNaN: true }),
        (x, a, b) => {
          expect(regularizedIncompleteBeta(x, a, 1)).toBeCloseTo(x ** a, 10);
          expect(regularizedIncompleteBeta(x, a, b)).toBeCloseTo(
            1 - regularizedIncompleteBeta(1 - x, b, a),
            10,
          );
        },
      ),
    );
  });
});

describe('studentTQuantile', () => {
  it('gives the textbook two-sided 95 % critical values', () => {
    const table: Array<[number, number]> = [
      [1, 12.706],
      [2, 4.303],
      [4, 2.776],
      [10, 2.228],
      [30, 2.042],
      [Number.POSITIVE_INFINITY, 1.96],
    ];
    for (const [df, value] of table) {
      expect(Math.abs(studentTQuantile(0.975, df) - value)).toBeLessThan(1e-3);
    }
  });

  it('matches SciPy across probabilities and degrees of freedom', () => {
    const cases: Array<[number, number, number]> = [
      [0.975, 1, 12.706204736174694],
      [0.975, 2, 4.302652729749462],
      [0.975, 3, 3.1824463052837078],
      [0.975, 4, 2.7764451051977934],
      [0.975, 10, 2.228138851986274],
      [0.975, 30, 2.0422724563012378],
      [0.995, 10, 3.16927267261695],
      [0.95, 5, 2.0150483733330233],
      [0.9, 20, 1.3253407069850465],
      [0.6, 7, 0.2631668613520229],
      [0.975, 1.5, 6.016663104427929],
      [0.975, 0.5, 164.55767348048818],
      [0.999, 1000, 3.0984021639129233],
      [0.975, 99_999, 1.9599877077718442],
      [0.975, 100_001, 1.9599877072973786],
      [0.995, 1e6, 2.5758342201053344],
    ];
    for (const [p, df, expected] of cases) {
      // Log-gamma differences cost digits as df grows; above 1e5 Acklam's 1.15e-9 dominates.
      const tolerance = df > 1e5 ? 3e-9 : 1e-10;
      expect(Math.abs(studentTQuantile(p, df) - expected)).toBeLessThan(tolerance * expected);
      expect(studentTQuantile(1 - p, df)).toBeCloseTo(-expected, 8);
    }
    expect(studentTQuantile(0.5, 3)).toBe(0);
  });

  it('inverts the CDF', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        fc.double({ min: 0.2, max: 5000, noNaN: true }),
        (p, df) => {
          expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 10);
        },
      ),
    );
  });

  it('names the argument it rejects', () => {
    expect(() => studentTQuantile(1, 3)).toThrow(/^p:/);
    expect(() => studentTQuantile(0.9, 0)).toThrow(/^df:/);
    expect(() => studentTQuantile(0.9, Number.NaN)).toThrow(/^df:/);
  });
});

describe('studentTCdf', () => {
  it('matches SciPy and is symmetric', () => {
    expect(studentTCdf(2, 3)).toBeCloseTo(0.9303370157205785, 12);
    expect(studentTCdf(-1, 7.5)).toBeCloseTo(0.17423801281537565, 12);
    expect(studentTCdf(0, 5)).toBe(0.5);
    expect(studentTCdf(1.959963984540054, Number.POSITIVE_INFINITY)).toBeCloseTo(0.975, 6);
  });
});

describe('normalQuantile', () => {
  it('matches known quantiles to about 1e-9', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 7);
    expect(normalQuantile(0.025)).toBeCloseTo(-1.959963984540054, 8);
  });
});

describe('binomialCdf', () => {
  it('matches exact sums and SciPy', () => {
    // (1 + 10) / 2^10.
    expect(binomialCdf(1, 10, 0.5)).toBeCloseTo(11 / 1024, 15);
    expect(binomialCdf(480, 1000, 0.5)).toBeCloseTo(0.10872414660207075, 12);
    expect(binomialCdf(2, 5, 0.3)).toBeCloseTo(0.16807 + 5 * 0.3 * 0.2401 + 10 * 0.09 * 0.343, 14);
    expect(binomialCdf(-1, 5, 0.5)).toBe(0);
    expect(binomialCdf(5, 5, 0.5)).toBe(1);
    // 2^-2000 underflows every term; the answer is 0, not NaN.
    expect(binomialCdf(30, 2000, 0.5)).toBe(0);
  });

  it('adds up to 1 and rises with k', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        (n, p) => {
          expect(binomialCdf(n - 1, n, p) + p ** n).toBeCloseTo(1, 10);
          const k = Math.floor(n / 2);
          expect(binomialCdf(k, n, p)).toBeLessThanOrEqual(binomialCdf(k + 1, n, p));
        },
      ),
    );
  });
});
