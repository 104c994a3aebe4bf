import { expandSweep, type Trial, validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { MetricKind, Stage, TrialResult as TrialResultMessage } from '@masksweep/proto';
import type { TrialResult } from '@masksweep/train';
import { describe, expect, it } from 'vitest';
import { resultMessage, stepMetricEvent } from './messages.js';

const attempt = { namespace: 'default', sweep: 'baselines', trial: 'mff-0', attempt: 1 };

describe('stepMetricEvent', () => {
  it("publishes a method's own figures beside loss, rate and speed", () => {
    const message = stepMetricEvent(
      attempt,
      {
        stage: 'pretrain',
        epoch: 0,
        step: 3,
        totalSteps: 10,
        loss: 0.5,
        lr: 1e-4,
        imagesPerSecond: 12,
        extra: { fusion_weight_0: 0.7, fusion_weight_11: 0.3 },
      },
      1000,
    );
    expect(message).toMatchObject({
      stage: Stage.STAGE_PRETRAIN,
      kind: MetricKind.METRIC_KIND_TRAIN,
    });
    expect(message.values).toEqual({
      loss: 0.5,
      lr: 1e-4,
      images_per_second: 12,
      fusion_weight_0: 0.7,
      fusion_weight_11: 0.3,
    });
  });

  it('publishes only loss, rate and speed for a method without figures of its own', () => {
    const message = stepMetricEvent(attempt, {
      stage: 'finetune',
      epoch: 1,
      step: 0,
      totalSteps: 10,
      loss: 1.5,
      lr: 2e-4,
      imagesPerSecond: 8,
    });
    expect(Object.keys(message.values ?? {}).sort()).toEqual(['images_per_second', 'loss', 'lr']);
  });
});

describe('resultMessage', () => {
  const metrics = (f1: number) => ({
    f1,
    recall: 0.5,
    precision: 0.5,
    accuracy: 0.5,
    macroF1: f1 / 2,
    macroPrecision: 0.5,
    macroRecall: 0.5,
    support: 8,
  });
  const interval = { estimate: 0.9, low: 0.8, high: 0.95 };

  it("carries both splits by the same names, and the trial's grids", () => {
    const [expanded] = expandSweep(validateSweep(tinySweep('baselines')));
    const trial = { ...(expanded as NonNullable<typeof expanded>), grids: ['a', 'b'] };
    const result = {
      val: { metrics: metrics(0.6), confusion: [] },
      test: {
        metrics: metrics(0.9),
        confusion: [
          [4, 1],
          [0, 3],
        ],
        intervals: { f1: interval },
        predictions: [],
      },
      artifacts: [],
    } as unknown as TrialResult;
    const message = resultMessage(attempt, trial, result, {
      artifactsBase: '.',
      durationSeconds: 1,
    });
    expect(message.config?.grids).toEqual(['a', 'b']);
    expect(message.valMetrics).toMatchObject({ f1: 0.6, macro_f1: 0.3 });
    expect(message.metrics).toMatchObject({ f1: 0.9, macro_f1: 0.45, f1_ci_low: 0.8 });
    expect(Object.keys(message.valMetrics ?? {}).sort()).toEqual(
      Object.keys(message.metrics ?? {})
        .filter((name) => !/_ci_(low|high)$/.test(name))
        .sort(),
    );
  });

  it('sends a scratch trial (no pre-training key) with an empty pretrain_key', () => {
    const sweep = validateSweep(tinySweep('scratch', { methods: ['scratch'] }));
    const [trial] = expandSweep(sweep) as [Trial];
    expect(trial.pretrainKey).toBeUndefined();
    const result = {
      val: { metrics: metrics(0.6), confusion: [] },
      test: {
        metrics: metrics(0.9),
        confusion: [
          [4, 1],
          [0, 3],
        ],
        intervals: { f1: interval },
        predictions: [],
      },
      artifacts: [],
    } as unknown as TrialResult;
    const message = resultMessage(attempt, trial, result, {
      artifactsBase: '.',
      durationSeconds: 1,
    });
    const decoded = TrialResultMessage.decode(TrialResultMessage.encode(message));
    expect(decoded.config?.pretrainKey).toBe('');
    expect(decoded.config?.method).toBe('scratch');
  });
});
