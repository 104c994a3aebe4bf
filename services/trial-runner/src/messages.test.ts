import { MetricKind, Stage } from '@masksweep/proto';
import { describe, expect, it } from 'vitest';
import { stepMetricEvent } from './messages.js';

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
