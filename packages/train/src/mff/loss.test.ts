import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { patchify } from '../spark-loss.js';
import { maeReconstructionLoss, unpatchify } from './loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('unpatchify', () => {
  it('puts patchify’s patches back in place', () => {
    const image = tf.tensor4d(
      Array.from({ length: 2 * 4 * 6 * 2 }, (_, i) => i),
      [2, 4, 6, 2],
    );
    const patches = patchify(image, 2);
    expect(unpatchify(patches, 2, 4, 6).arraySync()).toEqual(image.arraySync());
    expect(() => unpatchify(patches, 2, 4, 4)).toThrow(/do not tile a 4x4 image/);
    tf.dispose([image, patches]);
  });
});

describe('MAE reconstruction loss', () => {
  it('matches a hand computation: unbiased per-patch normalisation, removed patches only', () => {
    // one 2x4 image = two 2x2 patches [1, 2, 5, 6] and [3, 4, 7, 8]; patch 1 is removed
    const images = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 4, 1]);
    const prediction = tf.tensor3d([
      [
        [9, 9, 9, 9],
        [1, 0, 0, -1],
      ],
    ]);
    const removed = tf.tensor2d([[0, 1]]);
    // patch 1: mean 5.5, deviations -2.5 -1.5 1.5 2.5, unbiased variance 17/3
    const scale = Math.sqrt(17 / 3 + 1e-6);
    const target = [-2.5, -1.5, 1.5, 2.5].map((d) => d / scale);
    const expected = [1, 0, 0, -1].reduce((s, p, i) => s + (p - (target[i] as number)) ** 2, 0) / 4;
    const loss = maeReconstructionLoss(prediction, images, removed, 2);
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 6);
    tf.dispose([images, prediction, removed, loss]);
  });

  it("averages over the batch's removed patches, and visible patches do not count", () => {
    // two 2x2 images, one patch each: a constant target normalises to 0, so the error is the
    // mean square of the prediction
    const images = tf.tensor4d([3, 3, 3, 3, 5, 5, 5, 5], [2, 2, 2, 1]);
    const removed = tf.tensor2d([[1], [1]]);
    const prediction = tf.tensor3d([[[1, 1, 1, 1]], [[2, 2, 2, 2]]]);
    expect(maeReconstructionLoss(prediction, images, removed, 2).dataSync()[0]).toBeCloseTo(2.5, 5);
    const onlySecond = tf.tensor2d([[0], [1]]);
    expect(maeReconstructionLoss(prediction, images, onlySecond, 2).dataSync()[0]).toBeCloseTo(
      4,
      5,
    );
    tf.dispose([images, removed, prediction, onlySecond]);
  });

  it('has a gradient on removed patches only and leaks nothing', () => {
    const images = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const removed = tf.tensor2d([
      [1, 0, 0, 1],
      [0, 0, 1, 0],
    ]);
    const prediction = tf.variable(tf.zeros([2, 4, 4]));
    const before = tf.memory().numTensors;
    const perPatch = tf.tidy(() => {
      const grad = tf.grad((p) => maeReconstructionLoss(p as tf.Tensor3D, images, removed, 2))(
        prediction,
      );
      return tf.sum(tf.abs(grad), -1).arraySync() as number[][];
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(perPatch.map((row) => row.map((g) => (g > 0 ? 1 : 0)))).toEqual(removed.arraySync());
    tf.dispose([images, removed, prediction]);
  });
});
