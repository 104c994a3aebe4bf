import type { GrayImage } from '@masksweep/data';
import type { MaskGrid } from '@masksweep/masks';
import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';

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
  const full = Math.floor(count / batchSize);
  if (full === 0) return count > 0 ? [order] : [];
  return Array.from({ length: full }, (_, b) => order.slice(b * batchSize, (b + 1) * batchSize));
}
