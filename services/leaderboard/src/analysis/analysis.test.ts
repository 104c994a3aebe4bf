import { beforeEach, describe, expect, it } from 'vitest';
import { resultFixture } from '../store/fixtures.test-support.js';
import type { Store } from '../store/store.js';
import { refusal, useTestStore } from '../store/store.test-support.js';

let store: Store;
useTestStore((opened) => {
  store = opened;
});

describe('getSweepSummary', () => {
  it('summarises each config over its seeds with a Student-t interval', () => {
    [0.5, 0.6, 0.7].forEach((f1, seed) => {
      store.reportResult(resultFixture({ trial: `a${seed}`, seed, metrics: { f1 } }));
    });
    store.reportResult(resultFixture({ trial: 'b0', maskType: 'mesh', metrics: { f1: 0.8 } }));
    const summary = store.getSweepSummary({ namespace: 'default', sweep: 'study' });
    expect(summary.resultCount).toBe(4);
    const random = summary.configs.find((c) => c.config.maskType === 'random');
    const f1 = random?.metrics.f1;
    expect(random?.seeds).toEqual([0, 1, 2]);
    expect(random?.trials).toEqual(['a0', 'a1', 'a2']);
    expect(f1?.n).toBe(3);
    expect(f1?.mean).toBeCloseTo(0.6, 12);
    expect(f1?.std).toBeCloseTo(0.1, 12);
    const halfWidth = (4.302653 * 0.1) / Math.sqrt(3);
    expect(f1?.ciLow).toBeCloseTo(0.6 - halfWidth, 5);
    expect(f1?.ciHigh).toBeCloseTo(0.6 + halfWidth, 5);
    expect(JSON.parse(random?.config.configJson ?? '{}')).not.toHaveProperty('seed');

    const mesh = summary.configs.find((c) => c.config.maskType === 'mesh')?.metrics.f1;
    expect(mesh?.n).toBe(1);
    expect(mesh?.mean).toBe(0.8);
    expect(mesh?.std).toBeNaN();
    expect(mesh?.ciLow).toBeNaN();
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
