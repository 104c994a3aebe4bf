import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandSweep, validateSweep } from '@masksweep/api';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runTrial, type TrialResult, UnsupportedMethodError } from './trial.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const sweep = validateSweep({
  apiVersion: 'masksweep.io/v1alpha1',
  kind: 'Sweep',
  metadata: { name: 'tiny' },
  spec: {
    datasets: {
      pretrain: { phantom: { count: 8, seed: 1 } },
      downstream: { phantom: { count: 24, seed: 2 } },
      imageSize: 64,
      splits: { train: 0.5, val: 0.25, test: 0.25 },
    },
    grids: [
      {
        methods: ['spark'],
        masks: [{ type: 'mesh', ratios: [0.5] }],
        augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
      },
      { methods: ['simclr'] },
    ],
    model: {
      convnext: { depths: [1, 1, 1, 1], widths: [8, 16, 32, 64], dropPath: 0, decoderWidth: 32 },
    },
    budgets: {
      pretrain: {
        epochs: 1,
        batchSize: 4,
        optimizer: 'adamw',
        lr: 1e-3,
        weightDecay: 0.04,
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
const trials = expandSweep(sweep);

describe('runTrial', () => {
  it('writes result.json, and a second trial with the same key reuses the pre-training run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trial-'));
    const [first, second] = trials.filter((t) => t.config.method === 'spark');
    expect(first?.pretrainKey).toBe(second?.pretrainKey);
    const run = (trial: typeof first) =>
      runTrial({
        trial: trial as NonNullable<typeof first>,
        baseDir: root,
        outDir: join(root, trial?.name ?? ''),
        artifactDir: join(root, 'artifacts'),
      });
    const a = await run(first);
    const b = await run(second);
    expect(a.pretrain.reused).toBe(false);
    expect(b.pretrain.reused).toBe(true);
    expect(b.pretrain.epochLosses).toEqual(a.pretrain.epochLosses);
    expect(existsSync(join(root, 'artifacts/pretrain', a.pretrainKey, 'checkpoint.bin'))).toBe(
      false,
    );

    const written = JSON.parse(
      readFileSync(join(root, first?.name ?? '', 'result.json'), 'utf8'),
    ) as TrialResult;
    expect(written.trial).toBe(first?.name);
    // whole phantom patients (4 slices each) go to one split
    expect(written.test.predictions.length % 4).toBe(0);
    expect(written.test.predictions.length).toBeGreaterThan(0);
    const matrix = written.test.confusion.flat().reduce((s, n) => s + n, 0);
    expect(matrix).toBe(written.test.predictions.length);
    const f1 = written.test.intervals.f1;
    expect(f1.low).toBeLessThanOrEqual(f1.estimate);
    expect(f1.high).toBeGreaterThanOrEqual(f1.estimate);
    expect(f1.estimate).toBe(written.test.metrics.f1);
    for (const file of written.artifacts)
      expect(existsSync(join(root, first?.name ?? '', file))).toBe(true);
  });

  it('refuses a method that has no trainer yet, naming it', async () => {
    const simclr = trials.find((t) => t.config.method === 'simclr');
    const root = mkdtempSync(join(tmpdir(), 'trial-'));
    const run = runTrial({
      trial: simclr as (typeof trials)[number],
      baseDir: root,
      outDir: root,
      artifactDir: root,
    });
    await expect(run).rejects.toThrow(UnsupportedMethodError);
    await expect(run).rejects.toThrow(/method simclr has no trainer yet/);
  });
});
