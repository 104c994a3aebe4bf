import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ntXentLoss } from './nt-xent.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('NT-Xent', () => {
  it('matches a hand computation for two images (four views) at temperature 0.1', () => {
    // Rows 0, 1 are image 0's views, rows 2, 3 image 1's. Norms 5, 1, 2, 5, so the unit
    // vectors are a = (0.6, 0.8), b = (1, 0), c = (0, 1), d = (-0.6, 0.8).
    const z = tf.tensor2d([
      [3, 4],
      [1, 0],
      [0, 2],
      [-3, 4],
    ]);
    // Cosines: ab 0.6, ac 0.8, ad 0.28, bc 0, bd -0.6, cd 0.8; divided by 0.1.
    // Row loss = -positive + log(sum over the other three rows of exp(logit)).
    const rowA = -6 + Math.log(Math.exp(6) + Math.exp(8) + Math.exp(2.8));
    const rowB = -6 + Math.log(Math.exp(6) + Math.exp(0) + Math.exp(-6));
    const rowC = -8 + Math.log(Math.exp(8) + Math.exp(8) + Math.exp(0));
    const rowD = -8 + Math.log(Math.exp(8) + Math.exp(2.8) + Math.exp(-6));
    const expected = (rowA + rowB + rowC + rowD) / 4; // about 0.7083
    const loss = ntXentLoss(z);
    expect(loss.shape).toEqual([]);
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
    tf.dispose([z, loss]);
  });

  it('takes the temperature, is 0 without negatives, and leaks nothing', () => {
    const z = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 1],
      [1, -1],
    ]);
    const before = tf.memory().numTensors;
    const value = (t: number) => tf.tidy(() => ntXentLoss(z, t).dataSync()[0] as number);
    // Cosines: 0-1 0, 0-2 s, 0-3 s, 1-2 s, 1-3 -s, 2-3 0 with s = 0.7071; temperature 1.
    // The positives (0-1, 2-3) are 0, so each row's loss is the log of its exp-sum.
    const s = Math.SQRT1_2;
    const rows = [
      Math.log(1 + Math.exp(s) + Math.exp(s)),
      Math.log(1 + Math.exp(s) + Math.exp(-s)),
      Math.log(1 + Math.exp(s) + Math.exp(s)),
      Math.log(1 + Math.exp(s) + Math.exp(-s)),
    ];
    expect(value(1)).toBeCloseTo(rows.reduce((a, b) => a + b) / 4, 5);
    expect(tf.memory().numTensors).toBe(before);
    const pair = tf.tensor2d([
      [1, 2],
      [3, -1],
    ]);
    expect(tf.tidy(() => ntXentLoss(pair).dataSync()[0])).toBeCloseTo(0, 6);
    tf.dispose([z, pair]);
  });

  it('pulls the two views of an image together', () => {
    const z = tf.variable(
      tf.tensor2d([
        [1, 0.2],
        [0.1, 1],
        [-1, 0.3],
        [0.2, -1],
      ]),
    );
    const value = () => tf.tidy(() => ntXentLoss(z).dataSync()[0] as number);
    const before = value();
    const optimizer = tf.train.sgd(0.05);
    for (let i = 0; i < 20; i++) optimizer.minimize(() => ntXentLoss(z));
    expect(value()).toBeLessThan(before);
    z.dispose();
  });

  it('refuses an odd number of rows and a temperature <= 0', () => {
    const odd = tf.zeros([3, 2]) as tf.Tensor2D;
    expect(() => ntXentLoss(odd)).toThrow(
      'NT-Xent needs two views per image (an even number of rows), got 3',
    );
    const even = tf.zeros([2, 2]) as tf.Tensor2D;
    expect(() => ntXentLoss(even, 0)).toThrow('NT-Xent temperature must be > 0, got 0');
    tf.dispose([odd, even]);
  });
});
