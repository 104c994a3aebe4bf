import { beforeEach, describe, expect, it } from 'vitest';
import { resultFixture } from '../store/fixtures.test-support.js';
import type { Store } from '../store/store.js';
import { refusal, useTestStore } from '../store/store.test-support.js';

let store: Store;
useTestStore((opened) => {
  store = opened;
});

/** `n` test predictions of one seed: sample ids s00.., labels 1 for the first `positives`. */
function predictions(
  n: number,
  positives: number,
  predicted: (label: number, i: number) => number,
): Array<{ sampleId: string; label: number; predicted: number; probabilities: number[] }> {
  return Array.from({ length: n }, (_, i) => {
    const label = i < positives ? 1 : 0;
    return {
      sampleId: `s${String(i).padStart(2, '0')}`,
      label,
      predicted: predicted(label, i),
      probabilities: [],
    };
  });
}

describe('getSweepSummary', () => {
  it('gives each test metric per seed, its mean and the two-stage bootstrap interval, and validation per seed and mean', () => {
    // Seed 0 misses positives 0-3 of 10, seed 1 misses 0-1, seed 2 none: recall 0.6, 0.8, 1.
    [4, 2, 0].forEach((missed, seed) => {
      store.reportResult(
        resultFixture({
          trial: `a${seed}`,
          seed,
          metrics: { recall: 0, f1: 0 },
          valMetrics: { f1: 0.7 + seed / 10 },
          predictions: predictions(30, 10, (label, i) => (label === 1 && i < missed ? 0 : label)),
        }),
      );
    });
    store.reportResult(resultFixture({ trial: 'b0', maskType: 'mesh', metrics: { f1: 0.8 } }));
    const summary = store.getSweepSummary({ namespace: 'default', sweep: 'study' });
    expect(summary.resultCount).toBe(4);
    const random = summary.configs.find((c) => c.config.maskType === 'random');
    expect(random?.seeds).toEqual([0, 1, 2]);
    expect(random?.trials).toEqual(['a0', 'a1', 'a2']);
    expect(random?.testImages).toBe(30);
    expect(random?.sharedTestSet).toBe(true);
    const recall = random?.metrics.recall;
    // Per seed as the predictions score it (the reported 0 is not what they say).
    expect(recall?.perSeed).toEqual([0.6, 0.8, 1]);
    expect(recall?.mean).toBeCloseTo(0.8, 12);
    expect(recall?.std).toBeCloseTo(0.2, 12);
    expect(recall?.n).toBe(3);
    // The interval carries seeds and images: wider than the spread of three seeds alone.
    expect(recall?.ciLow).toBeLessThan(0.7);
    expect(recall?.ciHigh).toBe(1);
    expect(recall?.standardError).toBeGreaterThan(0);
    const val = random?.valMetrics.f1;
    expect(val?.perSeed.map((v) => Math.round(v * 10) / 10)).toEqual([0.7, 0.8, 0.9]);
    expect(val?.mean).toBeCloseTo(0.8, 12);
    expect(val?.ciLow).toBeNaN();
    expect(JSON.parse(random?.config.configJson ?? '{}')).not.toHaveProperty('seed');
    // The same request again: the same summary object.
    expect(store.getSweepSummary({ namespace: 'default', sweep: 'study' })).toBe(summary);

    // Without stored predictions: per seed and mean of what was reported, no interval.
    const mesh = summary.configs.find((c) => c.config.maskType === 'mesh');
    expect(mesh?.metrics.f1).toMatchObject({ mean: 0.8, n: 1, perSeed: [0.8] });
    expect(mesh?.metrics.f1?.std).toBeNaN();
    expect(mesh?.metrics.f1?.ciLow).toBeNaN();
    expect(mesh?.testImages).toBe(0);
    expect(mesh?.testSet).toBe('');

    // The trivial classifiers of the test set: majority (0) and always positive (1).
    expect(summary.trivial.map((t) => [t.name, t.predictedClass, t.testSet])).toEqual([
      ['majority', 0, random?.testSet],
      ['always_positive', 1, random?.testSet],
    ]);
    const [majority, positive] = summary.trivial;
    expect(majority?.metrics.accuracy?.mean).toBeCloseTo(20 / 30, 12);
    expect(majority?.metrics.f1?.mean).toBe(0);
    expect(positive?.metrics.recall).toMatchObject({ mean: 1, ciLow: 1, ciHigh: 1 });
    expect(positive?.metrics.precision?.mean).toBeCloseTo(1 / 3, 12);
    expect(positive?.metrics.f1?.ciLow).toBeLessThan(0.5);
    expect(positive?.metrics.f1?.ciHigh).toBeGreaterThan(0.5);
  });

  it('resamples each seed on its own images when the seeds were tested on different ones', () => {
    [0, 1].forEach((seed) => {
      const own = predictions(20, 8, (label) => label).map((p) => ({
        ...p,
        sampleId: `${p.sampleId}-seed${seed}`,
      }));
      store.reportResult(resultFixture({ trial: `a${seed}`, seed, predictions: own }));
    });
    const [config] = store.getSweepSummary({ namespace: 'default', sweep: 'study' }).configs;
    expect(config?.sharedTestSet).toBe(false);
    expect(config?.metrics.f1).toMatchObject({ mean: 1, ciLow: 1, ciHigh: 1 });
  });

  it('follows new and superseding results', () => {
    store.reportResult(resultFixture({ trial: 'a0', seed: 0, metrics: { f1: 0.5 } }));
    const before = store.getSweepSummary({ namespace: 'default', sweep: 'study' });
    expect(store.getSweepSummary({ namespace: 'default', sweep: 'study' })).toBe(before);
    store.reportResult(resultFixture({ trial: 'a1', seed: 1, metrics: { f1: 0.7 } }));
    expect(
      store.getSweepSummary({ namespace: 'default', sweep: 'study' }).configs[0]?.metrics.f1?.mean,
    ).toBeCloseTo(0.6);
    store.reportResult(resultFixture({ trial: 'a1', attempt: 2, seed: 1, metrics: { f1: 0.9 } }));
    const after = store.getSweepSummary({ namespace: 'default', sweep: 'study' });
    expect(after.configs[0]?.metrics.f1?.mean).toBeCloseTo(0.7);
    expect(after.resultCount).toBe(2);
  });

  it('refuses an unknown sweep and a bad confidence', () => {
    expect(
      refusal(() => store.getSweepSummary({ namespace: 'default', sweep: 'x' })),
    ).toMatchObject({
      name: 'NotFoundError',
      field: 'sweep',
    });
    expect(
      refusal(() =>
        store.getSweepSummary({ namespace: 'default', sweep: 'study', confidence: 1.5 }),
      ).field,
    ).toBe('confidence');
  });
});

describe('compareConfigs', () => {
  // 20 paired samples: s00 only A gets right, s01-s06 only B, the rest both.
  const labels = Array.from({ length: 20 }, (_, i) => (i < 10 ? 1 : 0));
  const predictionsA = labels.map((label, i) => (i >= 1 && i <= 6 ? 1 - label : label));
  const predictionsB = labels.map((label, i) => (i === 0 ? 1 - label : label));
  const toPredictions = (predicted: number[], extra: string[] = []) => [
    ...predicted.map((p, i) => ({
      sampleId: `s${String(i).padStart(2, '0')}`,
      label: labels[i] as number,
      predicted: p,
      probabilities: [],
    })),
    ...extra.map((sampleId) => ({ sampleId, label: 0, predicted: 0, probabilities: [] })),
  ];

  beforeEach(() => {
    store.reportResult(
      resultFixture({
        trial: 'a',
        maskType: 'random',
        predictions: toPredictions(predictionsA, ['only-a']),
      }),
    );
    store.reportResult(
      resultFixture({ trial: 'b', maskType: 'mesh', predictions: toPredictions(predictionsB) }),
    );
  });
  const keys = () => {
    const configs = store.getSweepSummary({ namespace: 'default', sweep: 'study' }).configs;
    const key = (maskType: string) =>
      configs.find((c) => c.config.maskType === maskType)?.config.configKey as string;
    return { configKeyA: key('random'), configKeyB: key('mesh') };
  };

  it("gives McNemar's exact p-value and the paired difference", () => {
    const response = store.compareConfigs({
      namespace: 'default',
      sweep: 'study',
      ...keys(),
      seed: 7,
      resamples: 500,
    });
    expect(response.pairedSamples).toBe(20);
    expect(response.onlyACorrect).toBe(1);
    expect(response.onlyBCorrect).toBe(6);
    expect(response.mcnemarPValue).toBeCloseTo(0.125, 12);
    // A: TP 4, FN 6, FP 0 -> F1 4/7; B: TP 9, FN 1 -> F1 18/19.
    expect(response.difference).toBeCloseTo(4 / 7 - 18 / 19, 12);
    expect(response.ciLow).toBeLessThanOrEqual(response.difference);
    expect(response.ciHigh).toBeGreaterThanOrEqual(response.difference);
    expect(response.ciLow).toBeLessThan(response.ciHigh);
    // One common seed: the paired bootstrap over its 20 images, with p-value and power.
    const paired = response.pairedDifference;
    expect(paired).toMatchObject({
      metric: 'f1',
      seeds: [0],
      imagesPerSeed: 20,
      sharedTestSet: true,
    });
    expect(paired?.perSeed[0]).toBeCloseTo(response.difference, 12);
    // A bootstrap p-value is at least 2 / (resamples + 1).
    expect(paired?.pValue).toBeGreaterThanOrEqual(2 / 501);
    expect(paired?.pValue).toBeLessThan(0.1);
    expect(paired?.detectableDifference).toBeCloseTo(2.8016 * (paired?.standardError ?? 0), 3);
    expect(paired?.pValueHolm).toBeNaN();
  });

  it('compares on the seeds both configs have, and resamples seeds', () => {
    // Seed 1 of A only; seed 2 of B has A's predictions (no difference on it).
    const more = (trial: string, maskType: string, seed: number, predicted: number[]) =>
      store.reportResult(
        resultFixture({ trial, maskType, seed, predictions: toPredictions(predicted) }),
      );
    more('a1', 'random', 1, predictionsA);
    more('a2', 'random', 2, predictionsA);
    more('b2', 'mesh', 2, predictionsA);
    const response = store.compareConfigs({
      namespace: 'default',
      sweep: 'study',
      ...keys(),
      seed: 3,
    });
    const paired = response.pairedDifference;
    expect(paired?.seeds).toEqual([0, 2]);
    expect(paired?.perSeed[1]).toBe(0);
    expect(response.difference).toBeCloseTo((4 / 7 - 18 / 19) / 2, 12);
    expect(response.pairedSamples).toBe(40);
    // Drawing seed 2 twice gives a difference of 0: the interval reaches it.
    expect(response.ciHigh).toBe(0);
  });

  it('gives the same interval for the same seed and another for another seed', () => {
    const request = { namespace: 'default', sweep: 'study', ...keys(), resamples: 300 };
    const first = store.compareConfigs({ ...request, seed: 1 });
    expect(store.compareConfigs({ ...request, seed: 1 })).toEqual(first);
    const other = store.compareConfigs({ ...request, seed: 2 });
    expect([other.ciLow, other.ciHigh]).not.toEqual([first.ciLow, first.ciHigh]);
    expect(store.compareConfigs({ ...request, metric: 'recall', seed: 1 }).difference).toBeCloseTo(
      0.4 - 0.9,
      12,
    );
  });

  it('refuses unknown configs, metrics and disagreeing labels', () => {
    const request = { namespace: 'default', sweep: 'study', ...keys() };
    expect(refusal(() => store.compareConfigs({ ...request, configKeyA: 'cfg-x' }))).toMatchObject({
      name: 'NotFoundError',
      field: 'config_key_a',
    });
    expect(refusal(() => store.compareConfigs({ ...request, configKeyB: 'cfg-y' })).field).toBe(
      'config_key_b',
    );
    expect(refusal(() => store.compareConfigs({ ...request, metric: 'auc' })).field).toBe('metric');
    store.reportResult(
      resultFixture({
        trial: 'b',
        attempt: 2,
        maskType: 'mesh',
        predictions: [{ sampleId: 's03', label: 0, predicted: 0, probabilities: [] }],
      }),
    );
    const error = refusal(() => store.compareConfigs(request));
    expect(error.field).toBe('config_key_b');
    expect(error.message).toMatch(/sample "s03" \(seed 0\) has label 1/);
  });
});
