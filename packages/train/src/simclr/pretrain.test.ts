import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderPhantom } from '@masksweep/data';
import { loadTensors, ResNetClassifier, saveTensors } from '@masksweep/models';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DivergedError } from '../diverged.js';
import { runSimclrPretraining, type SimclrPretrainOptions } from './pretrain.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = new Random(1);
const images = Array.from(
  { length: 8 },
  (_, i) => renderPhantom(rng, { size: 32, lesions: i % 2 }).image,
);
const MODEL = { depth: 18 as const, widths: [8, 16, 32, 64], outChannels: 16 };

function options(overrides: Partial<SimclrPretrainOptions> = {}): SimclrPretrainOptions {
  return {
    model: MODEL,
    stage: {
      epochs: 3,
      batchSize: 4,
      optimizer: 'lars',
      lr: 0.3,
      weightDecay: 1e-6,
      warmupEpochs: 1,
      schedule: 'cosine',
    },
    images,
    seed: 5,
    ...overrides,
  };
}

describe('SimCLR pre-training', () => {
  it('lowers the loss with LARS and leaks no tensor per step', async () => {
    const counts: number[] = [];
    const { network, epochLosses, stepLosses } = await runSimclrPretraining(
      options({
        stage: { ...options().stage, epochs: 4, lr: 1, warmupEpochs: 0, schedule: 'constant' },
        onStep: () => void counts.push(tf.memory().numTensors),
      }),
    );
    expect(stepLosses).toHaveLength(8);
    expect(epochLosses[3]).toBeLessThan(epochLosses[0] as number);
    // LARS's buffers exist from the start, so the count never moves
    expect(new Set(counts).size).toBe(1);
    network.dispose();
  });

  it('stores a backbone that a fresh ResNet classifier loads with identical outputs', async () => {
    // The artifact store's layout (trial.ts): <artifactDir>/pretrain/<pretrainKey>/weights.bin.
    const weightsFile = join(
      mkdtempSync(join(tmpdir(), 'simclr-')),
      'pretrain',
      'key',
      'weights.bin',
    );
    const run = await runSimclrPretraining(options({ stage: { ...options().stage, epochs: 1 } }));
    saveTensors(weightsFile, run.network.namedWeights(), { epochLosses: run.epochLosses });
    const { tensors } = loadTensors(weightsFile);
    const classifier = new ResNetClassifier({ ...MODEL, numClasses: 2, seed: 99 });
    expect(classifier.loadEncoder(tensors)).toBeGreaterThan(0);
    tf.dispose([...tensors.values()]);
    const x = tf.randomNormal([2, 32, 32, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const difference = tf.tidy(() => {
      const a = run.network.encoder.apply(x, { training: false }) as tf.Tensor[];
      const b = classifier.features(x, false);
      return a.map((stage, i) => tf.max(tf.abs(tf.sub(stage, b[i] as tf.Tensor))).dataSync()[0]);
    });
    expect(difference).toEqual([0, 0, 0, 0]);
    x.dispose();
    classifier.dispose();
    run.network.dispose();
  });

  it('warms up, follows the cosine, and resumes exactly where the uninterrupted run would be', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'simclr-')), 'checkpoint.bin');
    const stage = { ...options().stage, epochs: 2 };
    const rates: number[] = [];
    const whole = await runSimclrPretraining(
      options({ stage, onStep: (event) => void rates.push(event.lr) }),
    );
    // 2 warm-up steps from 1e-4 of the rate, then the cosine from 0.3 over the other 2
    expect(rates[0]).toBeCloseTo(0.3e-4, 10);
    expect(rates[1]).toBeCloseTo(0.3 * (1e-4 + (1 - 1e-4) / 2), 10);
    expect(rates[2]).toBeCloseTo(0.3, 10);
    expect(rates[3]).toBeCloseTo(0.15, 10);
    const first = await runSimclrPretraining(
      options({ stage: { ...stage, epochs: 1 }, checkpointFile: file }),
    );
    first.network.dispose();
    const resumed = await runSimclrPretraining(options({ stage, checkpointFile: file }));
    expect(resumed.stepLosses).toEqual(whole.stepLosses);
    for (const name of ['encoder.layer4.1.conv2.kernel', 'neck.bn1.moving_mean']) {
      expect(resumed.network.namedWeights().get(name)?.dataSync()).toEqual(
        whole.network.namedWeights().get(name)?.dataSync(),
      );
    }
    whole.network.dispose();
    resumed.network.dispose();
  });

  it('stops with DivergedError, the step and the rate, when the loss blows up', async () => {
    const before = tf.memory().numTensors;
    const run = runSimclrPretraining(
      options({
        stage: {
          ...options().stage,
          optimizer: 'sgd',
          lr: 1e30,
          warmupEpochs: 0,
          schedule: 'constant',
        },
      }),
    );
    await expect(run).rejects.toThrow(DivergedError);
    await expect(run).rejects.toThrow(/pretrain diverged at step \d+ \(learning rate 1\.00e\+30\)/);
    // the failed run freed its network and optimizer
    expect(tf.memory().numTensors).toBe(before);
  });
});
