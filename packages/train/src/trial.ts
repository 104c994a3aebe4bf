import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasPretraining, type PretrainedTrial, type Trial } from '@masksweep/api';
import { type GrayImage, normalize } from '@masksweep/data';
import { writeRgbPng } from '@masksweep/masks';
import { loadTensors, readCheckpointMeta, saveTensors } from '@masksweep/models';
import { Random } from '@masksweep/random';
import { bootstrapInterval, type Interval, metricOf } from '@masksweep/stats';
import * as tf from '@tensorflow/tfjs-core';
import { imageBatch } from './batches.js';
import {
  type EpochReport,
  type Evaluation,
  evaluate,
  type FinalValidation,
  finetune,
} from './finetune.js';
import { gradCam, overlayHeatmap } from './grad-cam.js';
import { pretrainMff } from './mff/pretrain.js';
import { pretrainSpark } from './pretrain.js';
import type { NamedNetwork, PretrainRun, PretrainStageOptions } from './pretrain-epochs.js';
import { runSimclrPretraining } from './simclr/pretrain.js';
import type { StepEvent } from './train-epochs.js';
import { loadTrialData, type SampleSet } from './trial-data.js';
import { convnextConfig, resnetConfig, vitConfig } from './trial-networks.js';

export interface RunTrialOptions {
  trial: Trial;
  /** Where relative dataset paths start (the Sweep file's folder). */
  baseDir: string;
  /** The trial's own folder: result.json and its artifacts. */
  outDir: string;
  /** Shared store of pre-training runs, keyed by pretrainKey. */
  artifactDir: string;
  /**
   * Fine-tune from a randomly initialised encoder (the no-pre-training baseline of any
   * method). A trial without pre-training (method scratch) always starts from one.
   */
  skipPretraining?: boolean;
  /**
   * The fine-tuning stage alone: the pre-training run of the trial's key must be in the
   * store already (its own workload made it); PretrainingMissingError otherwise. A trial
   * without pre-training needs none.
   */
  requirePretrained?: boolean;
  /** Grad-CAM overlays for at most this many positive test images. */
  gradCamLimit?: number;
  onStep?: (event: StepEvent) => void;
  /** Validation metrics after each fine-tuning epoch. */
  onEpoch?: (report: EpochReport) => void;
  log?: (message: string) => void;
}

export interface TrialResult {
  trial: string;
  /** Absent for a trial without pre-training (method scratch). */
  pretrainKey?: string;
  seed: number;
  backend: string;
  config: Trial['config'];
  pretrain: { reused: boolean; skipped: boolean; epochLosses: number[]; seconds: number };
  finetune: { epochs: EpochReport[]; classWeights: number[]; seconds: number };
  /**
   * The fine-tuned classifier on the validation split, measured once at the end of
   * fine-tuning (it is the last epoch's validation): what every choice reads (the objective,
   * the best trial, the ranking).
   */
  val: FinalValidation;
  /** The same classifier on the test split: reported, never chosen by. */
  test: Omit<Evaluation, 'labels' | 'predictions' | 'probabilities'> & {
    /** Percentile-bootstrap 95 % intervals over the test samples (2,000 resamples, seeded). */
    intervals: Record<(typeof INTERVAL_METRICS)[number], Interval>;
    predictions: Array<{ id: string; label: number; prediction: number; probabilities: number[] }>;
  };
  artifacts: string[];
  skipped: { pretrain: number; downstream: number };
}

const INTERVAL_METRICS = ['f1', 'recall', 'precision', 'accuracy', 'macroF1'] as const;

/** The fine-tuning stage found no pre-training run for its key in the artifact store. */
export class PretrainingMissingError extends Error {
  override readonly name = 'PretrainingMissingError';
}

/**
 * One trial end to end: load and split the data, pre-train (or reuse the pre-training run
 * of the same key from the artifact store), fine-tune (validating every epoch; the last
 * validation is the result's `val`), evaluate on the test split, draw
 * Grad-CAM for positive test images, and write result.json atomically.
 */
export async function runTrial(options: RunTrialOptions): Promise<TrialResult> {
  const { trial, log = () => {} } = options;
  const { config } = trial;
  mkdirSync(options.outDir, { recursive: true });

  const pretrains = hasPretraining(trial) && !options.skipPretraining;
  const data = await loadTrialData(config.data, options.baseDir, { pretrain: pretrains });
  log(
    `data: ${data.pretrain.length} pre-training images; ${data.train.ids.length}/${data.val.ids.length}/${data.test.ids.length} train/val/test`,
  );

  let pretrained: Map<string, tf.Tensor> | undefined;
  let pretrain: TrialResult['pretrain'] = {
    reused: false,
    skipped: true,
    epochLosses: [],
    seconds: 0,
  };
  if (!hasPretraining(trial)) {
    log(`${config.method} has no pre-training: random initialisation`);
  } else if (!pretrains) {
    log('pre-training skipped: random initialisation');
  } else {
    const run = await runPretraining({
      ...options,
      trial,
      images: data.pretrain,
      mustExist: options.requirePretrained,
    });
    pretrain = { ...run, skipped: false };
    pretrained = loadTensors(run.weightsFile).tensors;
  }

  const finetuneStarted = performance.now();
  const tuned = await finetune({
    method: config.method,
    model: config.model,
    numClasses: 2,
    stage: config.finetune,
    augmentation: config.augmentation,
    train: data.train,
    val: data.val,
    pretrained,
    seed: config.seed,
    onStep: options.onStep,
    onEpoch: (report) => {
      log(
        `finetune epoch ${report.epoch + 1}/${config.finetune.epochs}: loss ${report.trainLoss.toFixed(4)}, val F1 ${report.val.f1.toFixed(3)}`,
      );
      options.onEpoch?.(report);
    },
  });
  if (pretrained) tf.dispose([...pretrained.values()]);
  const finetuneSeconds = (performance.now() - finetuneStarted) / 1000;

  const test = evaluate(tuned.classifier, data.test, 2);
  const artifacts = await writeGradCams(
    tuned.classifier,
    data.test,
    options.outDir,
    options.gradCamLimit ?? 8,
  );
  tuned.classifier.dispose();

  const result: TrialResult = {
    trial: trial.name,
    ...(trial.pretrainKey !== undefined && { pretrainKey: trial.pretrainKey }),
    seed: trial.seed,
    backend: tf.getBackend(),
    config,
    pretrain,
    finetune: { epochs: tuned.epochs, classWeights: tuned.classWeights, seconds: finetuneSeconds },
    val: tuned.val,
    test: {
      intervals: Object.fromEntries(
        INTERVAL_METRICS.map((name) => [
          name,
          bootstrapInterval(test.labels, test.predictions, metricOf(name), {
            rng: new Random(config.seed).fork('bootstrap', name),
          }),
        ]),
      ) as TrialResult['test']['intervals'],
      confusion: test.confusion,
      metrics: test.metrics,
      predictions: data.test.ids.map((id, i) => ({
        id,
        label: test.labels[i] as number,
        prediction: test.predictions[i] as number,
        probabilities: test.probabilities[i] as number[],
      })),
    },
    artifacts,
    skipped: { pretrain: data.skipped.pretrain.length, downstream: data.skipped.downstream.length },
  };
  writeJsonAtomically(join(options.outDir, 'result.json'), result);
  log(
    `validation: F1 ${tuned.val.metrics.f1.toFixed(3)}; test: F1 ${test.metrics.f1.toFixed(3)}, recall ${test.metrics.recall.toFixed(3)}, precision ${test.metrics.precision.toFixed(3)}`,
  );
  return result;
}

async function writeGradCams(
  classifier: Parameters<typeof gradCam>[0],
  test: SampleSet,
  outDir: string,
  limit: number,
): Promise<string[]> {
  const positives = test.ids
    .map((id, i) => ({ id, i }))
    .filter(({ i }) => test.labels[i] === 1)
    .slice(0, limit);
  if (positives.length === 0) return [];
  const images = positives.map(({ i }) => test.images[i] as (typeof test.images)[number]);
  const maps = tf.tidy(() =>
    gradCam(
      classifier,
      imageBatch(images.map((image) => normalize(image))),
      positives.map(() => 1),
    ).arraySync(),
  );
  mkdirSync(join(outDir, 'gradcam'), { recursive: true });
  const written: string[] = [];
  for (const [k, { id }] of positives.entries()) {
    const image = images[k] as (typeof images)[number];
    const rgb = overlayHeatmap(image.data, Float32Array.from((maps[k] as number[][]).flat()));
    const file = join(
      'gradcam',
      `${id.replace(/\.[a-z]+$/i, '').replace(/[^a-zA-Z0-9._-]+/g, '_')}.png`,
    );
    await writeRgbPng({ width: image.width, height: image.height, rgb }, join(outDir, file));
    written.push(file);
  }
  return written;
}

export interface RunPretrainingOptions {
  /** A trial with a pre-training stage (`hasPretraining`): scratch has none. */
  trial: PretrainedTrial;
  /** The pre-training images of the trial's data. */
  images: readonly GrayImage[];
  /** Shared store of pre-training runs, keyed by pretrainKey. */
  artifactDir: string;
  /** Refuse to train: the finished run must be in the store. */
  mustExist?: boolean;
  onStep?: (event: StepEvent) => void;
  log?: (message: string) => void;
}

export interface PretrainingRun {
  /**
   * `<artifactDir>/pretrain/<pretrainKey>/weights.bin`: the whole pre-training network (the
   * decoder, neck or fusion too, by name); fine-tuning takes its `encoder.*`.
   */
  weightsFile: string;
  /** The weights were already in the store: nothing was trained. */
  reused: boolean;
  epochLosses: number[];
  seconds: number;
}

/**
 * The pre-training stage of a trial, shared by every trial with its pretrainKey: trains the
 * network of the trial's method and stores it under the key, resuming from its checkpoint,
 * or does nothing when the store already holds the finished weights.
 */
export async function runPretraining(options: RunPretrainingOptions): Promise<PretrainingRun> {
  const { trial, log = () => {} } = options;
  const pretrainDir = join(options.artifactDir, 'pretrain', trial.pretrainKey);
  const weightsFile = join(pretrainDir, 'weights.bin');
  const checkpointFile = join(pretrainDir, 'checkpoint.bin');
  const started = performance.now();
  if (existsSync(weightsFile)) {
    log(`pre-training ${trial.pretrainKey} reused from ${weightsFile}`);
    const meta = readCheckpointMeta(weightsFile);
    return { weightsFile, reused: true, epochLosses: meta.epochLosses as number[], seconds: 0 };
  }
  if (options.mustExist) {
    throw new PretrainingMissingError(
      `pre-training ${trial.pretrainKey} is not in ${options.artifactDir}: run its stage first`,
    );
  }
  const run = await pretrainNetwork(
    trial,
    {
      stage: trial.config.pretrain,
      images: options.images,
      seed: trial.config.seed,
      checkpointFile,
      onStep: options.onStep,
    },
    log,
  );
  // The whole network is kept (a decoder too, for reconstructions); fine-tuning takes the encoder.
  saveTensors(weightsFile, run.network.namedWeights(), {
    epochLosses: run.epochLosses,
    stepLosses: run.stepLosses,
    pretrainKey: trial.pretrainKey,
    ...run.meta,
  });
  run.network.dispose();
  // The finished weights supersede the resumable checkpoint.
  rmSync(checkpointFile, { force: true });
  return {
    weightsFile,
    reused: false,
    epochLosses: run.epochLosses,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Pre-trains with the trial's method: SparK (sparse or dense ConvNeXt), SimCLR (ResNet) or
 * MFF (ViT), logging each epoch. `meta` is what the stored weights file records besides the
 * curves.
 */
async function pretrainNetwork(
  trial: PretrainedTrial,
  options: Omit<PretrainStageOptions, 'onEpoch'>,
  log: (message: string) => void,
): Promise<PretrainRun<NamedNetwork> & { meta?: Record<string, unknown> }> {
  const { method, mask, model } = trial.config;
  const epochLine = ({ epoch, meanLoss }: { epoch: number; meanLoss: number }) =>
    `pretrain epoch ${epoch + 1}/${options.stage.epochs}: loss ${meanLoss.toFixed(4)}`;
  const onEpoch = (event: { epoch: number; meanLoss: number }) => log(epochLine(event));
  switch (method) {
    case 'spark':
    case 'spark-dense':
      if (!mask) throw new Error(`trial ${trial.name}: SparK needs a mask`);
      return pretrainSpark({ ...options, onEpoch, method, mask, model: convnextConfig(model) });
    case 'simclr':
      return runSimclrPretraining({ ...options, onEpoch, model: resnetConfig(model) });
    case 'mff': {
      const run = await pretrainMff({
        ...options,
        model: vitConfig(model),
        onEpoch: (event) =>
          log(
            `${epochLine(event)}, fusion weights ${event.fusionWeights.map((w) => w.toFixed(3)).join(' ')}`,
          ),
      });
      // The learned fusion stays readable with the weights, without the metric stream.
      const { fusionLayers } = run.network;
      return { ...run, meta: { fusionLayers, fusionWeights: run.network.fusionWeights() } };
    }
    case 'scratch':
      // hasPretraining refuses a scratch trial a key and a budget: it cannot come here.
      throw new Error(`trial ${trial.name}: scratch has no pre-training`);
  }
}

function writeJsonAtomically(file: string, value: unknown): void {
  const partial = `${file}.partial-${process.pid}`;
  writeFileSync(partial, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(partial, file);
}
