import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Weight initialisation from our seeded generator, so the same seed gives the same weights
 * on every backend. Values are drawn in JavaScript once, at build time.
 */

/** Normal(0, std) truncated to [-bound, bound] by redrawing (PyTorch's trunc_normal_). */
export function truncatedNormal(
  rng: Random,
  shape: number[],
  std: number,
  bound = 2 * std,
): tf.Tensor {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) {
    let v = rng.normal() * std;
    while (Math.abs(v) > bound) v = rng.normal() * std;
    values[i] = v;
  }
  return tf.tensor(values, shape);
}

/** Kaiming normal, fan-out mode, for ReLU: std = sqrt(2 / fan_out) (MMPreTrain's decoder init). */
export function kaimingNormalFanOut(rng: Random, shape: number[], fanOut: number): tf.Tensor {
  return truncatedNormal(rng, shape, Math.sqrt(2 / fanOut), Number.POSITIVE_INFINITY);
}

/**
 * PyTorch's default Conv2d init (kaiming_uniform with a = sqrt 5): U(-b, b), b = 1/sqrt(fan_in),
 * used where the references leave a layer to the framework default.
 */
export function pytorchDefaultUniform(rng: Random, shape: number[], fanIn: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-bound, bound);
  return tf.tensor(values, shape);
}
