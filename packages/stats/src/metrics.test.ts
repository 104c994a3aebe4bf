import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classificationMetrics,
  confusionMatrix,
  METRIC_NAMES,
  type MetricName,
  metricOf,
  tallyMetric,
} from './metrics.js';

/** Labels and predictions with the given counts, positives first. */
function outcomes(counts: { tp: number; fn: number; fp: number; tn: number }): {
  labels: number[];
  predictions: number[];
} {
  const labels: number[] = [];
  const predictions: number[] = [];
  const add = (label: number, prediction: number, times: number): void => {
    for (let i = 0; i < times; i++) {
      labels.push(label);
      predictions.push(prediction);
    }
  };
  add(1, 1, counts.tp);
  add(1, 0, counts.fn);
  add(0, 1, counts.fp);
  add(0, 0, counts.tn);
  return { labels, predictions };
}

const samples = fc.integer({ min: 2, max: 4 }).chain((numClasses) =>
  fc.record({
    numClasses: fc.constant(numClasses),
    pairs: fc.array(fc.tuple(fc.nat(numClasses - 1), fc.nat(numClasses - 1)), { maxLength: 80 }),
  }),
);

function metricsOf(pairs: Array<[number, number]>, numClasses: number) {
  return classificationMetrics(
    confusionMatrix(
      pairs.map(([label]) => label),
      pairs.map(([, prediction]) => prediction),
      numClasses,
    ),
  );
}

describe('confusionMatrix', () => {
  it('counts true classes by row and predictions by column', () => {
    expect(confusionMatrix([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 2, 0], 3)).toEqual([
      [1, 1, 0],
      [0, 2, 1],
      [1, 0, 0],
    ]);
    expect(confusionMatrix([], [], 2)).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it('names the entry it rejects', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(/^predictions: has 1 entries for 2/);
    expect(() => confusionMatrix([0, 2], [0, 1], 2)).toThrow(/^labels\[1\]: must be a class/);
    expect(() => confusionMatrix([0, 1], [0.5, 1], 2)).toThrow(/^predictions\[0\]:/);
    expect(() => confusionMatrix([], [], 0)).toThrow(/^numClasses:/);
  });
});

describe('classificationMetrics', () => {
  it("reproduces the paper's Table 7 rows (26 positives, 152 negatives)", () => {
    // 50 % random mask: recall 96.2 = 25/26, precision 80.6 = 25/31, accuracy 96.1 = 171/178.
    const best = outcomes({ tp: 25, fn: 1, fp: 6, tn: 146 });
    const metrics = classificationMetrics(confusionMatrix(best.labels, best.predictions, 2));
    expect(metrics.recall).toBe(25 / 26);
    expect(metrics.precision).toBe(25 / 31);
    expect(metrics.accuracy).toBe(171 / 178);
    expect(metrics.f1).toBeCloseTo(50 / 57, 12);
    expect(metrics.support).toBe(178);
    expect(
      [metrics.accuracy, metrics.precision, metrics.recall, metrics.f1].map(
        (v) => +(v * 100).toFixed(1),
      ),
    ).toEqual([96.1, 80.6, 96.2, 87.7]);
    // 70 %: 24 of 26 found, 7 false alarms → 94.9 / 77.4 / 92.3 / 84.2.
    const worse = outcomes({ tp: 24, fn: 2, fp: 7, tn: 145 });
    const row = classificationMetrics(confusionMatrix(worse.labels, worse.predictions, 2));
    expect(
      [row.accuracy, row.precision, row.recall, row.f1].map((v) => +(v * 100).toFixed(1)),
    ).toEqual([94.9, 77.4, 92.3, 84.2]);
  });

  it('gives 0 precision, recall and F1 to a model that calls everything negative', () => {
    // The paper's example: high accuracy (158/179 ≈ 88 % on the test split), useless model.
    const allNegative = outcomes({ tp: 0, fn: 21, fp: 0, tn: 158 });
    const metrics = classificationMetrics(
      confusionMatrix(allNegative.labels, allNegative.predictions, 2),
    );
    expect(metrics.accuracy).toBeCloseTo(0.8827, 4);
    expect([metrics.precision, metrics.recall, metrics.f1]).toEqual([0, 0, 0]);
    expect(
      classificationMetrics([
        [0, 0],
        [0, 0],
      ]).accuracy,
    ).toBe(0);
  });

  it('macro-averages per-class scores the way MMPreTrain does', () => {
    // Class 0: P = 3/5, R = 3/4, F1 = 2/3; class 1: P = 4/5, R = 4/6, F1 = 8/11.
    const metrics = classificationMetrics([
      [3, 1],
      [2, 4],
    ]);
    expect(metrics.macroPrecision).toBeCloseTo(0.7, 12);
    expect(metrics.macroRecall).toBeCloseTo((3 / 4 + 4 / 6) / 2, 12);
    expect(metrics.macroF1).toBeCloseTo((2 / 3 + 8 / 11) / 2, 12);
    // The mean of per-class F1 differs from the F1 of the mean precision and recall.
    const f1OfMeans =
      (2 * metrics.macroPrecision * metrics.macroRecall) /
      (metrics.macroPrecision + metrics.macroRecall);
    expect(Math.abs(metrics.macroF1 - f1OfMeans)).toBeGreaterThan(1e-3);
    expect(metrics.perClass.map((scores) => scores.support)).toEqual([4, 6]);
    // A class that never occurs and is never predicted scores 0 and still counts in the mean.
    const absent = classificationMetrics([
      [2, 0, 1],
      [0, 0, 0],
      [1, 0, 2],
    ]);
    expect([absent.precision, absent.recall, absent.f1]).toEqual([0, 0, 0]);
    expect(absent.macroRecall).toBeCloseTo((2 / 3 + 0 + 2 / 3) / 3, 12);
    expect(
      classificationMetrics(
        [
          [2, 0, 1],
          [0, 0, 0],
          [1, 0, 2],
        ],
        { positiveClass: 2 },
      ).recall,
    ).toBeCloseTo(2 / 3, 12);
  });

  it('keeps every metric in [0, 1] and F1 the harmonic mean of precision and recall', () => {
    fc.assert(
      fc.property(samples, ({ numClasses, pairs }) => {
        const metrics = metricsOf(pairs, numClasses);
        const scores = [metrics, ...metrics.perClass];
        for (const { precision, recall, f1 } of scores) {
          for (const value of [precision, recall, f1]) {
            expect(value).toBeGreaterThanOrEqual(0);
            expect(value).toBeLessThanOrEqual(1);
          }
          if (precision > 0 && recall > 0) {
            expect(1 / f1).toBeCloseTo((1 / precision + 1 / recall) / 2, 9);
          } else {
            expect(f1).toBe(0);
          }
          expect(f1).toBeLessThanOrEqual(Math.max(precision, recall) + 1e-12);
          expect(f1).toBeGreaterThanOrEqual(Math.min(precision, recall) - 1e-12);
        }
        for (const value of [
          metrics.accuracy,
          metrics.macroPrecision,
          metrics.macroRecall,
          metrics.macroF1,
        ]) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
        expect(metrics.support).toBe(pairs.length);
      }),
    );
  });

  it('does not depend on the order of the samples', () => {
    fc.assert(
      fc.property(
        samples.chain(({ numClasses, pairs }) =>
          fc.record({
            numClasses: fc.constant(numClasses),
            pairs: fc.constant(pairs),
            shuffled: fc.shuffledSubarray(pairs, { minLength: pairs.length }),
          }),
        ),
        ({ numClasses, pairs, shuffled }) => {
          expect(metricsOf(shuffled, numClasses)).toEqual(metricsOf(pairs, numClasses));
        },
      ),
    );
  });

  it('scores perfect predictions 1 on every class present', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1), { minLength: 1, maxLength: 50 }), (labels) => {
        const metrics = classificationMetrics(confusionMatrix(labels, labels, 2));
        expect(metrics.accuracy).toBe(1);
        expect(metrics.recall).toBe(labels.includes(1) ? 1 : 0);
      }),
    );
  });

  it('names what it rejects', () => {
    expect(() => classificationMetrics([])).toThrow(/^matrix: needs at least one class/);
    expect(() => classificationMetrics([[1, 2], [3]])).toThrow(/^matrix\[1\]: must have 2/);
    expect(() =>
      classificationMetrics([
        [1, -2],
        [3, 4],
      ]),
    ).toThrow(/^matrix\[0\]\[1\]:/);
    expect(() =>
      classificationMetrics(
        [
          [1, 2],
          [3, 4],
        ],
        { positiveClass: 2 },
      ),
    ).toThrow(/^positiveClass:/);
  });
});

describe('metricOf', () => {
  it('computes one named metric from labels and predictions', () => {
    const { labels, predictions } = outcomes({ tp: 25, fn: 1, fp: 6, tn: 146 });
    expect(metricOf('recall')(labels, predictions)).toBe(25 / 26);
    expect(metricOf('recall', { positiveClass: 0 })(labels, predictions)).toBe(146 / 152);
    expect(metricOf('macroF1')(labels, predictions)).toBe(
      classificationMetrics(confusionMatrix(labels, predictions, 2)).macroF1,
    );
  });
});

describe('tallyMetric', () => {
  const names = METRIC_NAMES;

  it('scores class tallies exactly as classificationMetrics scores the matrix', () => {
    fc.assert(
      fc.property(samples, fc.nat(), ({ numClasses, pairs }, pick) => {
        const positiveClass = pick % numClasses;
        const matrix = confusionMatrix(
          pairs.map(([label]) => label),
          pairs.map(([, prediction]) => prediction),
          numClasses,
        );
        const tallies = {
          correct: new Float64Array(numClasses),
          actual: new Float64Array(numClasses),
          predicted: new Float64Array(numClasses),
        };
        for (const [label, prediction] of pairs) {
          tallies.actual[label] = (tallies.actual[label] as number) + 1;
          tallies.predicted[prediction] = (tallies.predicted[prediction] as number) + 1;
          if (label === prediction) tallies.correct[label] = (tallies.correct[label] as number) + 1;
        }
        const metrics = classificationMetrics(matrix, { positiveClass });
        for (const name of names) {
          expect(tallyMetric(name, { numClasses, positiveClass })(tallies)).toBe(metrics[name]);
        }
      }),
    );
  });

  it('names what it rejects', () => {
    expect(() => tallyMetric('f2' as MetricName)).toThrow(/^metric: is not a metric name: "f2"/);
    expect(() => tallyMetric('f1', { numClasses: 2, positiveClass: 2 })).toThrow(/^positiveClass:/);
    expect(() => tallyMetric('f1', { numClasses: 0 })).toThrow(/^numClasses:/);
  });
});
