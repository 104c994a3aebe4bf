import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Xavier (Glorot) uniform, U(-b, b) with b = sqrt(6 / (fan_in + fan_out)): MAE's init of every
 * Linear layer and of the patch embedding's flattened kernel
 * (docs/algorithms.md#mff-encoder-and-fusion).
 */
export function xavierUniform(
  rng: Random,
  shape: number[],
  fanIn: number,
  fanOut: number,
): tf.Tensor {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-bound, bound);
  return tf.tensor(values, shape);
}

/**
 * MAE's fixed 2-D sin-cos position embedding (get_2d_sincos_pos_embed) as [1, 1 + g², D]:
 * row 0 (the cls token's) is zero; the token at (row r, column c) of the g x g grid, in
 * row-major order, has [sin(cω), cos(cω), sin(rω), cos(rω)] with ω_k = 10000^(-k / (D/4)),
 * k < D/4. The column comes first because MAE's meshgrid puts the width coordinate first.
 * (MMPreTrain's own builder swaps the two halves; on a square grid that only transposes it.)
 */
export function sincosPositionEmbedding(width: number, gridSize: number): tf.Tensor3D {
  if (width % 4 !== 0)
    throw new RangeError(`sin-cos positions need a width divisible by 4, got ${width}`);
  const quarter = width / 4;
  const omega = Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  const values = new Float32Array((1 + gridSize * gridSize) * width);
  for (let r = 0; r < gridSize; r++) {
    for (let c = 0; c < gridSize; c++) {
      const row = (1 + r * gridSize + c) * width;
      for (let k = 0; k < quarter; k++) {
        const w = omega[k] as number;
        values[row + k] = Math.sin(c * w);
        values[row + quarter + k] = Math.cos(c * w);
        values[row + 2 * quarter + k] = Math.sin(r * w);
        values[row + 3 * quarter + k] = Math.cos(r * w);
      }
    }
  }
  return tf.tensor3d(values, [1, 1 + gridSize * gridSize, width]);
}
