import { Random } from '@masksweep/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { metricOf } from './metrics.js';
import {
  bootstrapInterval,
  mcnemarExact,
  meanInterval,
  pairedBootstrapDifference,
  quantileOfSorted,
} from './statistics.js';

const accuracy = metricOf('accuracy');
const f1 = metricOf('f1');

/** n samples of which the first `correct` are predicted right; labels alternate 0/1. */
function run(n: number, correct: number): { labels: number[]; predictions: number[] } {
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const predictions = labels.map((label, i) => (i < correct ? label : 1 - label));
  return { labels, predictions };
}

/** The paper's Table 7 best row on its 178-image evaluation split (TP 25, FN 1, FP 6, TN 146). */
function tableSeven(): { labels: number[]; predictions: number[] } {
  const labels = [...new Array(26).fill(1), ...new Array(152).fill(0)];
  const predictions = [
    ...new Array(25).fill(1),
    0,
    ...new Array(6).fill(1),
    ...new Array(146).fill(0),
  ];
  return { labels, predictions };
}

describe('meanInterval', () => {
  it('matches SciPy t intervals', () => {
    // stats.t.interval(0.95, 4, loc=3, scale=stats.sem([1, 2, 3, 4, 5])).
    const interval = meanInterval([1, 2, 3, 4, 5]);
    expect(interval.mean).toBe(3);
    expect(interval.std).toBeCloseTo(Math.sqrt(2.5), 14);
    expect(interval.low).toBeCloseTo(1.0367568385224428, 10);
    expect(interval.high).toBeCloseTo(4.963243161477557, 10);
    expect(interval.n).toBe(5);
    // F1 over five seeds, 90 %.
    const seeds = meanInterval([0.871, 0.877, 0.842, 0.862, 0.857], 0.9);
    expect(seeds.std).toBeCloseTo(0.013516656391282585, 12);
    expect(seeds.low).toBeCloseTo(0.8489133432527142, 10);
    expect(seeds.high).toBeCloseTo(0.8746866567472857, 10);
  });

  it('has no interval for one value and rejects none or bad values', () => {
    const single = meanInterval([0.8]);
    expect(single.mean).toBe(0.8);
    expect([single.std, single.low, single.high].every(Number.isNaN)).toBe(true);
    expect(() => meanInterval([])).toThrow(/^values: needs at least one/);
    expect(() => meanInterval([1, Number.NaN])).toThrow(/^values\[1\]:/);
    expect(() => meanInterval([1, 2], 1)).toThrow(/^confidence:/);
  });

  it('is centred on the mean and widens with confidence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 30 }),
        (values) => {
          const narrow = meanInterval(values, 0.8);
          const wide = meanInterval(values, 0.99);
          expect(narrow.mean - narrow.low).toBeCloseTo(narrow.high - narrow.mean, 9);
          expect(wide.low).toBeLessThanOrEqual(narrow.low + 1e-12);
          expect(wide.high).toBeGreaterThanOrEqual(narrow.high - 1e-12);
        },
      ),
    );
  });
});

describe('mcnemarExact', () => {
  it('gives the exact two-sided binomial p-value of the discordant pairs', () => {
    // A right / B wrong on 1 sample, A wrong / B right on 9: p = 2·(1 + 10)/2^10 = 0.021484375.
    const labels = new Array(14).fill(1);
    const a = [1, ...new Array(9).fill(0), 1, 1, 0, 0];
    const b = [0, ...new Array(9).fill(1), 1, 1, 0, 0];
    const result = mcnemarExact(labels, a, b);
    expect([result.b, result.c]).toEqual([1, 9]);
    expect(result.pValue).toBeCloseTo(0.021484375, 12);
    expect(mcnemarExact(labels, b, a).pValue).toBeCloseTo(0.021484375, 12);
  });

  it('gives 1 without discordant pairs or when they balance, and SciPy values otherwise', () => {
    const { labels, predictions } = tableSeven();
    expect(mcnemarExact(labels, predictions, predictions)).toEqual({ b: 0, c: 0, pValue: 1 });
    const balanced = mcnemarExact([0, 0, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]);
    expect(balanced).toEqual({ b: 2, c: 2, pValue: 1 });
    // stats.binomtest(3, 20).pvalue and binomtest(0, 6).pvalue.
    const n = 20;
    const labels20 = new Array(n).fill(0);
    const threeWins = labels20.map((_, i) => (i < 3 ? 0 : 1));
    const seventeenWins = labels20.map((_, i) => (i < 3 ? 1 : 0));
    expect(mcnemarExact(labels20, threeWins, seventeenWins).pValue).toBeCloseTo(
      0.0025768280029296875,
      14,
    );
    expect(
      mcnemarExact(new Array(6).fill(1), new Array(6).fill(1), new Array(6).fill(0)).pValue,
    ).toBeCloseTo(0.03125, 14);
    expect(() => mcnemarExact([0, 1], [0], [0, 1])).toThrow(/^predictionsA: has 1 entries/);
  });
});

describe('bootstrapInterval', () => {
  it('brackets the estimate and agrees with the normal approximation for accuracy', () => {
    // Accuracy 0.9 on 400 samples: standard error sqrt(0.9·0.1/400) = 0.015, ±1.96·SE ≈ 0.029.
    const { labels, predictions } = run(400, 360);
    const interval = bootstrapInterval(labels, predictions, accuracy, { rng: new Random(1) });
    expect(interval.estimate).toBe(0.9);
    expect(interval.low).toBeLessThan(0.9);
    expect(interval.high).toBeGreaterThan(0.9);
    expect(interval.low).toBeCloseTo(0.9 - 1.96 * 0.015, 2);
    expect(interval.high).toBeCloseTo(0.9 + 1.96 * 0.015, 2);
  });

  it('is fixed by the seed and changes with it', () => {
    const { labels, predictions } = tableSeven();
    const options = { resamples: 500 };
    const first = bootstrapInterval(labels, predictions, f1, { ...options, rng: new Random(7) });
    const again = bootstrapInterval(labels, predictions, f1, { ...options, rng: new Random(7) });
    const other = bootstrapInterval(labels, predictions, f1, { ...options, rng: new Random(8) });
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    expect(first.estimate).toBeCloseTo(50 / 57, 12);
    expect(first.low).toBeLessThan(first.estimate);
    expect(first.high).toBeGreaterThan(first.estimate);
    expect(first.high).toBeLessThanOrEqual(1);
  });

  it('narrows as the confidence drops and collapses for a constant metric', () => {
    const { labels, predictions } = tableSeven();
    const wide = bootstrapInterval(labels, predictions, f1, { rng: new Random(3), resamples: 400 });
    const narrow = bootstrapInterval(labels, predictions, f1, {
      rng: new Random(3),
      resamples: 400,
      confidence: 0.5,
    });
    expect(narrow.low).toBeGreaterThanOrEqual(wide.low);
    expect(narrow.high).toBeLessThanOrEqual(wide.high);
    const perfect = bootstrapInterval(labels, labels, accuracy, { rng: new Random(3) });
    expect(perfect).toEqual({ estimate: 1, low: 1, high: 1 });
  });

  it('names what it rejects', () => {
    const rng = new Random(0);
    expect(() => bootstrapInterval([0], [0, 1], accuracy, { rng })).toThrow(/^predictions:/);
    expect(() => bootstrapInterval([], [], accuracy, { rng })).toThrow(/^labels: needs at least/);
    expect(() => bootstrapInterval([0], [0], accuracy, { rng, resamples: 0 })).toThrow(
      /^resamples:/,
    );
    expect(() => bootstrapInterval([0], [0], accuracy, { rng, confidence: 0 })).toThrow(
      /^confidence:/,
    );
    expect(() => bootstrapInterval([0], [0], () => Number.NaN, { rng })).toThrow(/^metric:/);
  });
});

describe('pairedBootstrapDifference', () => {
  it('is exactly 0 for identical runs', () => {
    const { labels, predictions } = tableSeven();
    expect(
      pairedBootstrapDifference(labels, predictions, predictions, f1, { rng: new Random(5) }),
    ).toEqual({ estimate: 0, low: 0, high: 0 });
  });

  it('stays above 0 when A is right wherever B is and on more samples besides', () => {
    const { labels, predictions: a } = run(200, 190);
    const { predictions: b } = run(200, 170);
    const difference = pairedBootstrapDifference(labels, a, b, accuracy, { rng: new Random(9) });
    expect(difference.estimate).toBeCloseTo(0.1, 12);
    // Every resample keeps A ≥ B, so even the lower bound is ≥ 0; unpaired noise would not.
    expect(difference.low).toBeGreaterThan(0);
    expect(difference.high).toBeGreaterThan(difference.estimate);
    const swapped = pairedBootstrapDifference(labels, b, a, accuracy, { rng: new Random(9) });
    expect(swapped.low).toBeCloseTo(-difference.high, 12);
    expect(swapped.high).toBeCloseTo(-difference.low, 12);
  });

  it('is fixed by the seed', () => {
    const { labels, predictions: a } = run(100, 80);
    const { predictions: b } = run(100, 75);
    const options = { resamples: 300 };
    expect(
      pairedBootstrapDifference(labels, a, b, accuracy, { ...options, rng: new Random(11) }),
    ).toEqual(
      pairedBootstrapDifference(labels, a, b, accuracy, { ...options, rng: new Random(11) }),
    );
    expect(() =>
      pairedBootstrapDifference(labels, a, b.slice(1), accuracy, { rng: new Random(0) }),
    ).toThrow(/^predictionsB:/);
  });
});

describe('quantileOfSorted', () => {
  it('interpolates linearly between ranks like NumPy', () => {
    expect(quantileOfSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileOfSorted([1, 2, 3, 4], 0.025)).toBeCloseTo(1.075, 12);
    expect(quantileOfSorted([1, 2, 3, 4], 1)).toBe(4);
    expect(quantileOfSorted([7], 0.3)).toBe(7);
    expect(() => quantileOfSorted([], 0.5)).toThrow(/^sorted:/);
  });
});
