import { existsSync } from 'node:fs';
import { type GrayImage, normalize, randomFlip, randomResizedCrop } from '@masksweep/data';
import { createMaskGenerator, type MaskSetting } from '@masksweep/masks';
import {
  assignByName,
  type ConvNeXtConfig,
  loadTensors,
  PATCH_SIZE,
  SparKNetwork,
  saveTensors,
} from '@masksweep/models';
import { deriveSeed, Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { activeBatch, epochBatches, imageBatch, stagePlan } from './batches.js';
import { optimizerStep } from './optimizer-step.js';
import { createOptimizer, type OptimizerType } from './optimizers.js';
import { sparkReconstructionLoss } from './spark-loss.js';

export interface StageConfig {
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr: number;
  weightDecay: number;
  weightDecayEnd?: number;
  warmupEpochs: number;
  schedule: 'cosine' | 'constant';
  gradClip?: number;
}

export interface StepEvent {
  stage: 'pretrain' | 'finetune';
  epoch: number;
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
}

export interface PretrainOptions {
  /** `spark` (sparse encoder) or `spark-dense` (the ablation). */
  method: 'spark' | 'spark-dense';
  mask: MaskSetting;
  model: ConvNeXtConfig;
  stage: StageConfig;
  /** Gray images in [0, 1] at the training size (not normalised). */
  images: readonly GrayImage[];
  seed: number;
  /** Where the resumable checkpoint lives; a run finding one there continues after its epoch. */
  checkpointFile?: string;
  onStep?: (event: StepEvent) => void;
  onEpoch?: (event: { epoch: number; meanLoss: number }) => void;
}

export interface PretrainResult {
  network: SparKNetwork;
  /** Mean loss per epoch, resumed epochs included. */
  epochLosses: number[];
  stepLosses: number[];
}

/** SparK's pre-training pipeline (MMPreTrain): RandomResizedCrop with scale 0.2-1, then flip. */
const PRETRAIN_CROP_SCALE: [number, number] = [0.2, 1];

export function optimizerType(name: string): OptimizerType {
  if (name === 'adamw' || name === 'lamb' || name === 'sgd') return name;
  throw new RangeError(`optimizer '${name}' is not available for this stage (adamw, lamb, sgd)`);
}

/**
 * SparK pre-training (ALGORITHMS.md 1-3, 5): each batch is augmented, masked per image with
 * the trial's mask, reconstructed, and the loss on masked patches drives the optimiser.
 * Every random draw comes from the seed and the epoch, so a run resumed from its checkpoint
 * continues exactly as the uninterrupted run would have.
 */
export async function pretrainSpark(options: PretrainOptions): Promise<PretrainResult> {
  const { stage, images, seed } = options;
  if (images.length === 0) throw new RangeError('pre-training needs at least one image');
  const size = (images[0] as GrayImage).width;
  const gridSize = size / PATCH_SIZE;
  const masks = createMaskGenerator(options.mask, gridSize);
  const network = new SparKNetwork({ ...options.model, sparse: options.method === 'spark', seed });
  const named = [...network.namedWeights()].filter(([, v]) => v.trainable);
  const optimizer = createOptimizer(
    { type: optimizerType(stage.optimizer), lr: stage.lr, weightDecay: stage.weightDecay },
    named.map(([name, variable]) => ({ name, variable })),
  );
  const { stepsPerEpoch, totalSteps, lrAt, weightDecayAt } = stagePlan(stage, images.length);

  const result: PretrainResult = { network, epochLosses: [], stepLosses: [] };
  let firstEpoch = 0;
  if (options.checkpointFile && existsSync(options.checkpointFile)) {
    firstEpoch = resume(options.checkpointFile, network, optimizer, result);
  }

  try {
    for (let epoch = firstEpoch; epoch < stage.epochs; epoch++) {
      const rng = new Random(seed).fork('pretrain', epoch);
      const augmentRng = rng.fork('augment');
      const maskRng = rng.fork('mask');
      network.encoder.reseedDropPath(deriveSeed(seed, 'drop-path', epoch));
      let epochLoss = 0;
      const batches = epochBatches(images.length, stage.batchSize, rng.fork('order'));
      for (const [b, indices] of batches.entries()) {
        const started = performance.now();
        const step = epoch * stepsPerEpoch + b;
        const lr = lrAt(step);
        const views = indices.map((i) => {
          const crop = randomResizedCrop(images[i] as GrayImage, augmentRng, {
            size,
            scale: PRETRAIN_CROP_SCALE,
          });
          return normalize(randomFlip(crop, augmentRng));
        });
        const loss = tf.tidy(() => {
          const x = imageBatch(views);
          const active = activeBatch(masks.generate(indices.length, maskRng), gridSize);
          return optimizerStep(
            () =>
              sparkReconstructionLoss(network.reconstruct(x, active, true), x, active, PATCH_SIZE),
            named,
            optimizer,
            {
              stage: 'pretrain',
              step,
              lr,
              weightDecay: weightDecayAt(step),
              gradClip: stage.gradClip,
            },
          );
        });
        epochLoss += loss;
        result.stepLosses.push(loss);
        const seconds = (performance.now() - started) / 1000;
        options.onStep?.({
          stage: 'pretrain',
          epoch,
          step,
          totalSteps,
          loss,
          lr,
          imagesPerSecond: indices.length / seconds,
        });
        // Let timers and I/O (progress, metrics) run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const meanLoss = epochLoss / batches.length;
      result.epochLosses.push(meanLoss);
      options.onEpoch?.({ epoch, meanLoss });
      if (options.checkpointFile)
        checkpoint(options.checkpointFile, network, optimizer, result, epoch);
    }
  } finally {
    optimizer.dispose();
  }
  return result;
}

function checkpoint(
  file: string,
  network: SparKNetwork,
  optimizer: ReturnType<typeof createOptimizer>,
  result: PretrainResult,
  epoch: number,
): void {
  const state = optimizer.state();
  const tensors = new Map<string, tf.Tensor>([
    ...[...network.namedWeights()].map(([name, v]) => [`net.${name}`, v] as [string, tf.Tensor]),
    ...Object.entries(state).map(([name, t]) => [`opt.${name}`, t] as [string, tf.Tensor]),
  ]);
  saveTensors(file, tensors, {
    epoch,
    epochLosses: result.epochLosses,
    stepLosses: result.stepLosses,
  });
  tf.dispose(Object.values(state));
}

/** Restores weights, optimiser state and curves; returns the epoch to continue from. */
function resume(
  file: string,
  network: SparKNetwork,
  optimizer: ReturnType<typeof createOptimizer>,
  result: PretrainResult,
): number {
  const { tensors, meta } = loadTensors(file);
  try {
    const prefixed = (prefix: string) =>
      new Map(
        [...tensors]
          .filter(([n]) => n.startsWith(prefix))
          .map(([n, t]) => [n.slice(prefix.length), t]),
      );
    assignByName(network.namedWeights(), prefixed('net.'), file);
    optimizer.loadState(Object.fromEntries(prefixed('opt.')));
  } finally {
    tf.dispose([...tensors.values()]);
  }
  result.epochLosses.push(...(meta.epochLosses as number[]));
  result.stepLosses.push(...(meta.stepLosses as number[]));
  return (meta.epoch as number) + 1;
}
