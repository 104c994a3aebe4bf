import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPhantom } from '@masksweep/data';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DivergedError } from './diverged.js';
import { type PretrainOptions, pretrainSpark } from './pretrain.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = new Random(1);
const images = Array.from(
  { length: 8 },
  (_, i) => renderPhantom(rng, { size: 64, lesions: i % 2 }).image,
);

function options(overrides: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    method: 'spark',
    mask: { type: 'mesh', ratio: 0.5 },
    model: { depths: [1, 1, 1, 1], widths: [8, 16, 32, 64], dropPath: 0.1, decoderWidth: 32 },
    stage: {
      epochs: 3,
      batchSize: 4,
      optimizer: 'adamw',
      lr: 3e-3,
      weightDecay: 0.04,
      warmupEpochs: 0,
      schedule: 'constant',
      gradClip: 5,
    },
    images,
    seed: 5,
    ...overrides,
  };
}

describe('SparK pre-training', () => {
  it('lowers the reconstruction loss and leaks no tensor per step', async () => {
    const counts: number[] = [];
    const { network, epochLosses, stepLosses } = await pretrainSpark(
      options({ onStep: () => void counts.push(tf.memory().numTensors) }),
    );
    expect(stepLosses).toHaveLength(6);
    expect(epochLosses[2]).toBeLessThan(epochLosses[0] as number);
    // after the first step created the optimiser's slots, the count stays put
    expect(new Set(counts.slice(1)).size).toBe(1);
    network.dispose();
  });

  it('resumes from its checkpoint exactly where the uninterrupted run would be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pretrain-'));
    const whole = await pretrainSpark(options({ stage: { ...options().stage, epochs: 2 } }));
    const file = join(dir, 'pretrain.ckpt');
    const first = await pretrainSpark(
      options({ stage: { ...options().stage, epochs: 1 }, checkpointFile: file }),
    );
    first.network.dispose();
    const resumed = await pretrainSpark(
      options({ stage: { ...options().stage, epochs: 2 }, checkpointFile: file }),
    );
    expect(resumed.stepLosses).toEqual(whole.stepLosses);
    const name = 'decoder.head.kernel';
    expect(resumed.network.namedWeights().get(name)?.dataSync()).toEqual(
      whole.network.namedWeights().get(name)?.dataSync(),
    );
    whole.network.dispose();
    resumed.network.dispose();
  });

  it('stops with Diverged, the step and the rate, when the loss blows up', async () => {
    const run = pretrainSpark(
      options({
        stage: { ...options().stage, optimizer: 'sgd', lr: 1e12, gradClip: undefined, epochs: 2 },
      }),
    );
    await expect(run).rejects.toThrow(DivergedError);
    await expect(run).rejects.toThrow(/pretrain diverged at step \d+ \(learning rate 1\.00e\+12\)/);
  });
});
