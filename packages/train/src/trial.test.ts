import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandSweep, type Trial, validateSweep } from '@masksweep/api';
import { pretrainedTrial } from '@masksweep/api/test-support';
import { loadTensors, readCheckpointMeta, ViTClassifier } from '@masksweep/models';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StepEvent } from './train-epochs.js';
import { PretrainingMissingError, runPretraining, runTrial, type TrialResult } from './trial.js';
import { loadTrialData } from './trial-data.js';
import { vitConfig } from './trial-networks.js';

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
      { methods: ['simclr', 'mff', 'scratch'] },
    ],
    model: {
      convnext: { depths: [1, 1, 1, 1], widths: [8, 16, 32, 64], dropPath: 0, decoderWidth: 32 },
      resnet: { depth: '18', widths: [4, 8, 16, 32] },
      // 64 px in 16-px patches: a 4x4 grid of tokens
      vit: {
        patchSize: 16,
        width: 16,
        depth: 2,
        heads: 2,
        decoderWidth: 8,
        decoderDepth: 1,
        decoderHeads: 2,
      },
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
      perMethod: { simclr: { pretrain: { optimizer: 'lars', lr: 0.3, weightDecay: 1e-6 } } },
    },
  },
});
const trials = expandSweep(sweep);
const trialOf = (method: Trial['config']['method']) =>
  pretrainedTrial(trials.find((t) => t.config.method === method));

/** result.json as written: test predictions of whole patients, and their metrics. */
function expectResultWritten(outDir: string, trial: Trial): TrialResult {
  const written = JSON.parse(readFileSync(join(outDir, 'result.json'), 'utf8')) as TrialResult;
  expect(written.trial).toBe(trial.name);
  // whole phantom patients (4 slices each) go to one split
  expect(written.test.predictions.length % 4).toBe(0);
  expect(written.test.predictions.length).toBeGreaterThan(0);
  const matrix = written.test.confusion.flat().reduce((s, n) => s + n, 0);
  expect(matrix).toBe(written.test.predictions.length);
  const f1 = written.test.intervals.f1;
  expect(f1.low).toBeLessThanOrEqual(f1.estimate);
  expect(f1.high).toBeGreaterThanOrEqual(f1.estimate);
  expect(f1.estimate).toBe(written.test.metrics.f1);
  // validation at the end of fine-tuning: the last epoch's, on whole patients of the val split
  expect(written.val.metrics).toEqual(written.finetune.epochs.at(-1)?.val);
  const validated = written.val.confusion.flat().reduce((s, n) => s + n, 0);
  expect(validated).toBe(written.val.metrics.support);
  expect(validated % 4).toBe(0);
  expect(validated).toBeGreaterThan(0);
  for (const file of written.artifacts) expect(existsSync(join(outDir, file))).toBe(true);
  return written;
}

describe('runTrial', () => {
  it('writes result.json, and a second trial with the same key reuses the pre-training run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trial-'));
    const spark = trials.filter((t) => t.config.method === 'spark');
    const [first, second] = [pretrainedTrial(spark[0]), pretrainedTrial(spark[1])];
    expect(first.pretrainKey).toBe(second.pretrainKey);
    const run = (trial: Trial) =>
      runTrial({
        trial,
        baseDir: root,
        outDir: join(root, trial.name),
        artifactDir: join(root, 'artifacts'),
      });
    const a = await run(first);
    const b = await run(second);
    expect(a.pretrainKey).toBe(first.pretrainKey);
    expect(a.pretrain.reused).toBe(false);
    expect(b.pretrain.reused).toBe(true);
    expect(b.pretrain.epochLosses).toEqual(a.pretrain.epochLosses);
    expect(existsSync(join(root, 'artifacts/pretrain', first.pretrainKey, 'checkpoint.bin'))).toBe(
      false,
    );

    expectResultWritten(join(root, first.name), first);
  });

  it.each(['simclr', 'mff'] as const)(
    'runs a %s trial end to end: pre-training, fine-tuning, result.json and Grad-CAM',
    async (method) => {
      const root = mkdtempSync(join(tmpdir(), 'trial-'));
      const trial = trialOf(method);
      const tensorsAt: Record<StepEvent['stage'], number[]> = { pretrain: [], finetune: [] };
      const result = await runTrial({
        trial,
        baseDir: root,
        outDir: join(root, 'trial'),
        artifactDir: join(root, 'artifacts'),
        onStep: (event) => void tensorsAt[event.stage].push(tf.memory().numTensors),
      });
      expect(result.pretrain).toMatchObject({ reused: false, skipped: false });
      expect(result.pretrain.epochLosses).toHaveLength(1);
      expect(result.finetune.epochs).toHaveLength(1);
      // 8 pre-training and 12 training images in batches of 4; after the first step made
      // the optimizer's slots, no step leaves a tensor behind
      expect(tensorsAt.pretrain).toHaveLength(2);
      expect(tensorsAt.finetune).toHaveLength(3);
      expect(new Set(tensorsAt.finetune.slice(1)).size).toBe(1);
      const written = expectResultWritten(join(root, 'trial'), trial);
      expect(written.artifacts.length).toBeGreaterThan(0);
      expect(written.artifacts.every((file) => file.startsWith('gradcam/'))).toBe(true);
    },
  );
});

describe('a scratch trial', () => {
  it("is SparK's fine-tuning from random weights: no pre-training, no store, no pre-training data", async () => {
    const root = mkdtempSync(join(tmpdir(), 'trial-'));
    const scratch = trials.find((t) => t.config.method === 'scratch') as Trial;
    expect(scratch.pretrainKey).toBeUndefined();
    // A pre-training folder that does not exist: a scratch trial must not read it.
    const data = { ...scratch.config.data, pretrain: { path: 'no-such-folder' } };
    const result = await runTrial({
      trial: { ...scratch, config: { ...scratch.config, data } },
      baseDir: root,
      outDir: join(root, 'scratch'),
      artifactDir: join(root, 'artifacts'),
      // The fine-tuning stage alone, as both drivers run it: it needs no stored run.
      requirePretrained: true,
    });
    expect(result.pretrain).toEqual({ reused: false, skipped: true, epochLosses: [], seconds: 0 });
    expect(result).not.toHaveProperty('pretrainKey');
    expect(existsSync(join(root, 'artifacts'))).toBe(false);
    expectResultWritten(join(root, 'scratch'), scratch);

    // The same network, budget and seed as the SparK trial fine-tuned without its pre-training.
    const spark = trials.find(
      (t) => t.config.method === 'spark' && t.config.augmentation.type === 'none',
    ) as Trial;
    const baseline = await runTrial({
      trial: spark,
      baseDir: root,
      outDir: join(root, 'spark'),
      artifactDir: join(root, 'artifacts'),
      skipPretraining: true,
    });
    expect(result.finetune.epochs).toEqual(baseline.finetune.epochs);
    expect(result.test.predictions).toEqual(baseline.test.predictions);
  });
});

describe('runPretraining', () => {
  it('stores an MFF network with its fusion under the key for fine-tuning, then reuses it', async () => {
    const trial = trialOf('mff');
    const artifactDir = mkdtempSync(join(tmpdir(), 'mff-store-'));
    const { pretrain: images } = await loadTrialData(trial.config.data, artifactDir);
    await expect(runPretraining({ trial, images, artifactDir, mustExist: true })).rejects.toThrow(
      PretrainingMissingError,
    );
    const events: StepEvent[] = [];
    const run = await runPretraining({
      trial,
      images,
      artifactDir,
      onStep: (event) => void events.push(event),
    });
    expect(run.reused).toBe(false);
    expect(run.weightsFile).toBe(join(artifactDir, 'pretrain', trial.pretrainKey, 'weights.bin'));
    expect(existsSync(join(artifactDir, 'pretrain', trial.pretrainKey, 'checkpoint.bin'))).toBe(
      false,
    );
    // 8 images in batches of 4; both blocks fused, their weights published with every step
    expect(events).toHaveLength(2);
    expect(Object.keys(events[0]?.extra ?? {})).toEqual(['fusion_weight_0', 'fusion_weight_1']);
    const meta = readCheckpointMeta(run.weightsFile);
    expect(meta.fusionLayers).toEqual([0, 1]);
    expect(meta.fusionWeights).toHaveLength(2);

    const { tensors } = loadTensors(run.weightsFile);
    const classifier = new ViTClassifier({
      ...vitConfig(trial.config.model),
      imageSize: 64,
      numClasses: 2,
      seed: 1,
    });
    expect(classifier.loadEncoder(tensors)).toBeGreaterThan(0);
    classifier.dispose();
    tf.dispose([...tensors.values()]);

    const again = await runPretraining({ trial, images, artifactDir });
    expect(again.reused).toBe(true);
    expect(again.epochLosses).toEqual(run.epochLosses);
  });
});
