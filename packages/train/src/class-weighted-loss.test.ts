import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { weightedCrossEntropy } from './class-weighted-loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The paper's equation 6 on its training split: w0 = 1424 / 1258, w1 = 1424 / 166.
const paperWeights = [1424 / 1258, 1424 / 166];
const logitRows = [
  [2, 0],
  [0, 1],
  [1, 1],
];
// One-hot, one-hot, and a Mixup-style soft target.
const targetRows = [
  [1, 0],
  [0, 1],
  [0.3, 0.7],
];

function lossOf(logits: number[][], targets: number[][], weights: number[]): number {
  return tf.tidy(
    () =>
      weightedCrossEntropy(
        tf.tensor2d(logits),
        tf.tensor2d(targets),
        weights,
      ).dataSync()[0] as number,
  );
}

describe('weightedCrossEntropy', () => {
  it('matches a hand computation, divided by N and not by the sum of weights', () => {
    const [w0, w1] = paperWeights as [number, number];
    // −log softmax: [2, 0] → log(1 + e^−2) for class 0; [0, 1] → log(1 + e^−1) for class 1;
    // [1, 1] → log 2 for both classes, weighted 0.3·w0 + 0.7·w1.
    const expected =
      (w0 * Math.log(1 + Math.exp(-2)) +
        w1 * Math.log(1 + Math.exp(-1)) +
        (0.3 * w0 + 0.7 * w1) * Math.LN2) /
      3;
    expect(lossOf(logitRows, targetRows, paperWeights)).toBeCloseTo(expected, 5);
    // ≈ (1.131955·0.126928 + 8.578313·0.313262 + 6.344406·0.693147) / 3.
    expect(expected).toBeCloseTo(2.409514, 5);
  });

  it('is the ordinary mean cross entropy with unit weights', () => {
    const expected = (Math.log(1 + Math.exp(-2)) + Math.log(1 + Math.exp(-1)) + Math.LN2) / 3;
    expect(lossOf(logitRows, targetRows, [1, 1])).toBeCloseTo(expected, 6);
  });

  it('ignores a constant added to a row of logits and stays finite for large logits', () => {
    const shifted = logitRows.map((row, i) => row.map((z) => z + 100 * i));
    expect(lossOf(shifted, targetRows, paperWeights)).toBeCloseTo(
      lossOf(logitRows, targetRows, paperWeights),
      4,
    );
    expect(lossOf([[1000, -1000]], [[0, 1]], [1, 1])).toBeCloseTo(2000, 2);
  });

  it('has the gradient (Σ_c w_c·y_ic·p_ik − w_k·y_ik) / N', () => {
    const logits = tf.tensor2d(logitRows);
    const targets = tf.tensor2d(targetRows);
    const before = tf.memory().numTensors;
    const gradient = tf.grad((z: tf.Tensor) =>
      weightedCrossEntropy(z as tf.Tensor2D, targets, paperWeights),
    )(logits);
    const expected = logitRows.flatMap((row, i) => {
      const exps = row.map(Math.exp);
      const total = exps.reduce((a, b) => a + b, 0);
      const target = targetRows[i] as number[];
      const weightedMass = target.reduce((sum, y, c) => sum + (paperWeights[c] as number) * y, 0);
      return exps.map(
        (e, k) =>
          (weightedMass * (e / total) - (paperWeights[k] as number) * (target[k] as number)) / 3,
      );
    });
    Array.from(gradient.dataSync()).forEach((value, index) => {
      expect(value).toBeCloseTo(expected[index] as number, 5);
    });
    gradient.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, targets]);
  });

  it('leaks no tensors', () => {
    const logits = tf.tensor2d(logitRows);
    const targets = tf.tensor2d(targetRows);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) weightedCrossEntropy(logits, targets, paperWeights).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, targets]);
  });

  it('names the argument it rejects', () => {
    const logits = tf.tensor2d(logitRows);
    const targets = tf.tensor2d(targetRows);
    const wrongTargets = tf.tensor2d([[1, 0]]);
    const empty = tf.zeros([0, 2]) as tf.Tensor2D;
    expect(() => weightedCrossEntropy(logits, wrongTargets, paperWeights)).toThrow(
      /^targets: must have the logits' shape \[3,2\], got \[1,2\]/,
    );
    expect(() => weightedCrossEntropy(logits, targets, [1])).toThrow(/^classWeights: needs one/);
    expect(() => weightedCrossEntropy(logits, targets, [1, -1])).toThrow(/^classWeights\[1\]:/);
    expect(() => weightedCrossEntropy(empty, empty, [1, 1])).toThrow(/^logits: needs samples/);
    tf.dispose([logits, targets, wrongTargets, empty]);
  });
});
