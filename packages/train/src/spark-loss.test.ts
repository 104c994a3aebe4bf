import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { PATCH_SIZE, SparKNetwork } from '@masksweep/models';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { patchify, sparkReconstructionLoss } from './spark-loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('patchify', () => {
  it('cuts row-major patches flattened over row, column, channel', () => {
    // 4x4 image, values 0..15 row-major, 2x2 patches
    const image = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 4, 4, 1],
    );
    expect(patchify(image, 2).arraySync()).toEqual([
      [
        [0, 1, 4, 5],
        [2, 3, 6, 7],
        [8, 9, 12, 13],
        [10, 11, 14, 15],
      ],
    ]);
  });
});

describe('SparK reconstruction loss', () => {
  it('normalises target patches (unbiased variance) and averages the MSE over masked patches', () => {
    // one 2x4 image = two 2x2 patches; patch 0 visible, patch 1 masked
    const target = tf.tensor4d([1, 2, 5, 6, 3, 4, 7, 8], [1, 2, 4, 1]);
    const prediction = tf.zeros([1, 2, 4, 1]) as tf.Tensor4D;
    const active = tf.tensor4d([1, 0], [1, 1, 2, 1]);
    // patch 1 = [5, 6, 7, 8]: mean 6.5, unbiased variance 5/3, normalised t = (x - 6.5)/sqrt(5/3 + 1e-6)
    const scale = Math.sqrt(5 / 3 + 1e-6);
    const expected = [-1.5, -0.5, 0.5, 1.5].reduce((s, d) => s + (d / scale) ** 2, 0) / 4;
    const loss = sparkReconstructionLoss(prediction, target, active, 2).dataSync()[0] as number;
    expect(loss).toBeCloseTo(expected, 6);
  });

  it("ignores visible patches and averages over the whole batch's masked patches", () => {
    const target = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const active = tf.tensor4d([1, 0, 1, 1, 0, 0, 0, 1], [2, 2, 2, 1]);
    const prediction = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const base = sparkReconstructionLoss(prediction, target, active, 2).dataSync()[0];
    // change the prediction only inside visible patches (image 0 patch 0)
    const visibleOnly = tf.tensor4d(
      Array.from({ length: 32 }, (_, i) => ([0, 1, 4, 5].includes(i) ? 10 : 0)),
      [2, 4, 4, 1],
    );
    const changed = sparkReconstructionLoss(
      tf.add(prediction, visibleOnly) as tf.Tensor4D,
      target,
      active,
      2,
    ).dataSync()[0];
    expect(changed).toBe(base);
    const allMasked = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D;
    expect(sparkReconstructionLoss(prediction, target, allMasked, 2).dataSync()[0]).not.toBe(base);
  });

  it('has a gradient and leaks nothing', () => {
    const target = tf.randomNormal([2, 4, 4, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const active = tf.tensor4d([1, 0, 1, 1, 0, 0, 0, 1], [2, 2, 2, 1]);
    const prediction = tf.variable(tf.zeros([2, 4, 4, 1]));
    const before = tf.memory().numTensors;
    const gradientSize = tf.tidy(() => {
      const grad = tf.grad((p) => sparkReconstructionLoss(p as tf.Tensor4D, target, active, 2))(
        prediction,
      );
      return tf.sum(tf.abs(grad)).dataSync()[0] as number;
    });
    expect(gradientSize).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('a freshly initialised SparK network', () => {
  // The decoder's convs start at std 0.02 as SparK's LightDecoder, so the first prediction is
  // near 0 and the loss near the trivial level 1 (a zero prediction of unit-variance targets).
  it.each([0, 1, 2])('starts near the trivial loss 1 on random data (seed %i)', (seed) => {
    const network = new SparKNetwork({
      depths: [1, 1, 1, 1],
      widths: [32, 64, 128, 256],
      dropPath: 0.1,
      decoderWidth: 128,
      sparse: true,
      seed,
    });
    // tfjs takes seed 0 for "unseeded"
    const images = tf.randomNormal([4, 64, 64, 1], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
    // half of each image's 2x2 patch grid visible
    const active = tf.tensor4d([1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1], [4, 2, 2, 1]);
    const loss = tf.tidy(
      () =>
        sparkReconstructionLoss(
          network.reconstruct(images, active, true),
          images,
          active,
          PATCH_SIZE,
        ).dataSync()[0] as number,
    );
    expect(loss).toBeGreaterThan(0.5);
    expect(loss).toBeLessThan(2);
    tf.dispose([images, active]);
    network.dispose();
  });
});
