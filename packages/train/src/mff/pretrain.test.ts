import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPhantom } from '@masksweep/data';
import type { ViTConfig } from '@masksweep/models';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DivergedError } from '../diverged.js';
import type { StepEvent } from '../train-epochs.js';
import { type MffPretrainOptions, pretrainMff } from './pretrain.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** 32 px, patch 8 (16 tokens, 4 visible), width 32, 4 blocks; decoder 16 wide, 1 block. */
const VIT: ViTConfig = {
  patchSize: 8,
  width: 32,
  depth: 4,
  heads: 2,
  decoderWidth: 16,
  decoderDepth: 1,
  decoderHeads: 2,
  maskRatio: 0.75,
};

const rng = new Random(1);
const images = Array.from(
  { length: 8 },
  (_, i) => renderPhantom(rng, { size: 32, lesions: i % 2 }).image,
);

function options(overrides: Partial<MffPretrainOptions> = {}): MffPretrainOptions {
  return {
    model: VIT,
    stage: {
      epochs: 3,
      batchSize: 4,
      optimizer: 'adamw',
      lr: 3e-3,
      weightDecay: 0.05,
      warmupEpochs: 0,
      schedule: 'constant',
      gradClip: 5,
    },
    images,
    seed: 5,
    ...overrides,
  };
}

describe('MFF pre-training', () => {
  it('lowers the loss, reports the fusion weights of every step, and leaks no tensor per step', async () => {
    const counts: number[] = [];
    const events: StepEvent[] = [];
    const { network, epochLosses, stepLosses } = await pretrainMff(
      options({
        onStep: (event) => {
          counts.push(tf.memory().numTensors);
          events.push(event);
        },
      }),
    );
    expect(stepLosses).toHaveLength(6);
    expect(epochLosses[2]).toBeLessThan(epochLosses[0] as number);
    // after the first step created the optimiser's slots, the count stays put
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(events.map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5]);
    // 4 blocks: all fused, named by block
    expect(events[0]?.extra).toEqual({
      fusion_weight_0: 0.25,
      fusion_weight_1: 0.25,
      fusion_weight_2: 0.25,
      fusion_weight_3: 0.25,
    });
    for (const { extra } of events) {
      expect(Object.values(extra ?? {}).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    expect(events[5]?.extra).not.toEqual(events[0]?.extra);
    network.dispose();
  });

  it('resumes from its checkpoint exactly where the uninterrupted run would be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mff-pretrain-'));
    const stage = (epochs: number) => ({ ...options().stage, epochs });
    const whole = await pretrainMff(options({ stage: stage(2) }));
    const file = join(dir, 'checkpoint.bin');
    const first = await pretrainMff(options({ stage: stage(1), checkpointFile: file }));
    first.network.dispose();
    const resumed = await pretrainMff(options({ stage: stage(2), checkpointFile: file }));
    expect(resumed.stepLosses).toEqual(whole.stepLosses);
    const name = 'fusion.weights';
    expect(resumed.network.namedWeights().get(name)?.dataSync()).toEqual(
      whole.network.namedWeights().get(name)?.dataSync(),
    );
    whole.network.dispose();
    resumed.network.dispose();
  });

  it('stops with DivergedError, the step and the rate, when a huge rate makes the loss NaN', async () => {
    const lr = 1e30;
    const run = pretrainMff(
      options({ stage: { ...options().stage, lr, gradClip: undefined, epochs: 2 } }),
    );
    await expect(run).rejects.toThrow(DivergedError);
    const error = (await run.catch((e: unknown) => e)) as DivergedError;
    expect(error.step).toBeGreaterThan(0);
    expect(error.learningRate).toBe(lr);
    expect(Number.isFinite(error.value)).toBe(false);
    expect(error.message).toMatch(/pretrain diverged at step \d+ \(learning rate 1\.00e\+30\)/);
  });
});
