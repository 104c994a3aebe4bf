import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandSweep, validateSweep } from '@masksweep/api';
import { renderPhantom } from '@masksweep/data';
import { loadTensors, readCheckpointMeta, ViTClassifier, type ViTConfig } from '@masksweep/models';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DivergedError } from '../diverged.js';
import { PretrainingMissingError } from '../trial.js';
import {
  type MffPretrainOptions,
  type MffStepEvent,
  pretrainMff,
  runMffPretraining,
} from './pretrain.js';

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
    const events: MffStepEvent[] = [];
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
    expect(events[0]?.fusionWeights).toEqual(Array(4).fill(0.25));
    for (const { fusionWeights } of events) {
      expect(fusionWeights).toHaveLength(4);
      expect(fusionWeights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    expect(events[5]?.fusionWeights).not.toEqual(events[0]?.fusionWeights);
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

describe('MFF pre-training stage of a trial', () => {
  const sweep = validateSweep({
    apiVersion: 'masksweep.io/v1alpha1',
    kind: 'Sweep',
    metadata: { name: 'tiny-mff' },
    spec: {
      datasets: {
        pretrain: { phantom: { count: 4, seed: 1 } },
        downstream: { phantom: { count: 8, seed: 2 } },
        imageSize: 64,
      },
      grids: [{ methods: ['mff'] }],
      model: { vit: { ...VIT, patchSize: 16 } },
      budgets: {
        pretrain: {
          epochs: 1,
          batchSize: 4,
          optimizer: 'adamw',
          lr: 1e-3,
          weightDecay: 0.05,
          warmupEpochs: 0,
        },
        finetune: {
          epochs: 1,
          batchSize: 4,
          optimizer: 'adamw',
          lr: 1e-3,
          weightDecay: 0.05,
          warmupEpochs: 0,
        },
      },
    },
  });
  const [trial] = expandSweep(sweep);
  // The Sweep's images are 64 px (its SparK mask grid must be 2x2 at least): patch 16.
  const trialImages = Array.from(
    { length: 4 },
    (_, i) => renderPhantom(rng, { size: 64, lesions: i % 2 }).image,
  );

  it('stores the network under the pretrain key for fine-tuning, then reuses it', async () => {
    if (!trial) throw new Error('the sweep has no trial');
    const artifactDir = mkdtempSync(join(tmpdir(), 'mff-store-'));
    await expect(
      runMffPretraining({ trial, images: trialImages, artifactDir, mustExist: true }),
    ).rejects.toThrow(PretrainingMissingError);
    const events: MffStepEvent[] = [];
    const run = await runMffPretraining({
      trial,
      images: trialImages,
      artifactDir,
      onStep: (event) => void events.push(event),
    });
    expect(run.reused).toBe(false);
    expect(run.weightsFile).toBe(join(artifactDir, 'pretrain', trial.pretrainKey, 'weights.bin'));
    expect(existsSync(join(artifactDir, 'pretrain', trial.pretrainKey, 'checkpoint.bin'))).toBe(
      false,
    );
    expect(events).toHaveLength(1);
    const meta = readCheckpointMeta(run.weightsFile);
    expect(meta.fusionLayers).toEqual([0, 1, 2, 3]);
    expect(meta.fusionWeights).toHaveLength(4);

    const { tensors } = loadTensors(run.weightsFile);
    const classifier = new ViTClassifier({
      ...VIT,
      patchSize: 16,
      imageSize: 64,
      numClasses: 2,
      seed: 1,
    });
    expect(classifier.loadEncoder(tensors)).toBeGreaterThan(0);
    classifier.dispose();
    tf.dispose([...tensors.values()]);

    const again = await runMffPretraining({ trial, images: trialImages, artifactDir });
    expect(again.reused).toBe(true);
    expect(again.epochLosses).toEqual(run.epochLosses);
  });
});
