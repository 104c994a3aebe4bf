/** Test inputs: a tensor of seeded standard-normal values. */
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new Random(seed);
  const count = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: count }, () => rng.normal()),
    shape,
  );
}
