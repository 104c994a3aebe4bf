import type { GrayImage } from '@masksweep/data';
import type { MaskGrid } from '@masksweep/masks';
import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { learningRateAt, weightDecayAt } from './schedule.js';

/** Images of one size as a [B, H, W, 1] tensor. */
export function imageBatch(images: readonly GrayImage[]): tf.Tensor4D {
  const first = images[0];
  if (!first) throw new RangeError('an empty batch');
  const { width, height } = first;
  const data = new Float32Array(images.length * width * height);
  images.forEach((image, i) => {
    if (image.width !== width || image.height !== height) {
      throw new RangeError(
        `batch mixes ${width}x${height} and ${image.width}x${image.height} images`,
      );
    }
    data.set(image.data, i * width * height);
  });
  return tf.tensor4d(data, [images.length, height, width, 1]);
}

/** Masks (1 = masked) as SparK's active map [B, G, G, 1] (1 = visible). */
export function activeBatch(masks: readonly MaskGrid[], gridSize: number): tf.Tensor4D {
  const data = new Float32Array(masks.length * gridSize * gridSize);
  masks.forEach((mask, i) => {
    for (let c = 0; c < mask.length; c++) data[i * mask.length + c] = 1 - (mask[c] as number);
  });
  return tf.tensor4d(data, [masks.length, gridSize, gridSize, 1]);
}

/**
 * Sample indices in batches for one epoch: shuffled by the epoch's generator; the last
 * incomplete batch is dropped (as MMPreTrain's SparK loader), unless it would be the only one.
 */
export function epochBatches(count: number, batchSize: number, rng: Random): number[][] {
  const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
  if (count < batchSize) return count > 0 ? [order] : [];
  return Array.from({ length: batchesPerEpoch(count, batchSize) }, (_, b) =>
    order.slice(b * batchSize, (b + 1) * batchSize),
  );
}

/** How many batches epochBatches gives for `count` samples. */
export function batchesPerEpoch(count: number, batchSize: number): number {
  return count < batchSize ? Math.min(count, 1) : Math.floor(count / batchSize);
}

/**
 * A stage's step plan: steps per epoch over `count` samples, the total, the learning rate
 * of each step (warm-up epochs, then the stage's schedule) and its weight decay (constant,
 * or cosine-annealed to `weightDecayEnd`).
 */
export function stagePlan(
  stage: {
    epochs: number;
    batchSize: number;
    lr: number;
    weightDecay: number;
    weightDecayEnd?: number;
    warmupEpochs: number;
    schedule: 'cosine' | 'constant';
  },
  count: number,
) {
  const stepsPerEpoch = batchesPerEpoch(count, stage.batchSize);
  const totalSteps = stage.epochs * stepsPerEpoch;
  const schedule = {
    baseLr: stage.lr,
    warmupSteps: Math.min(stage.warmupEpochs * stepsPerEpoch, totalSteps),
    totalSteps,
    schedule: stage.schedule,
  };
  const { weightDecay, weightDecayEnd } = stage;
  return {
    stepsPerEpoch,
    totalSteps,
    lrAt: (step: number) => learningRateAt(step, schedule),
    weightDecayAt: (step: number) =>
      weightDecayEnd === undefined
        ? weightDecay
        : weightDecayAt(step, { base: weightDecay, final: weightDecayEnd, totalSteps }),
  };
}
