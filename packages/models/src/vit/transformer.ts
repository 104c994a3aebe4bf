import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { dense, dropPath, gelu, layerNorm } from '../convnext/ops.js';
import { xavierUniform } from './init.js';

/** ParamLayer's `param`, handed to the helpers that declare a block's weights. */
export type ParamFactory = (
  name: string,
  shape: number[],
  init: (rng: Random) => tf.Tensor,
) => tf.Variable;

/** The weights of one pre-norm transformer block (MMPreTrain's TransformerEncoderLayer). */
export interface TransformerBlock {
  ln1Gamma: tf.Variable;
  ln1Beta: tf.Variable;
  qkvKernel: tf.Variable;
  qkvBias: tf.Variable;
  projKernel: tf.Variable;
  projBias: tf.Variable;
  ln2Gamma: tf.Variable;
  ln2Beta: tf.Variable;
  fc1Kernel: tf.Variable;
  fc1Bias: tf.Variable;
  fc2Kernel: tf.Variable;
  fc2Bias: tf.Variable;
}

/** A Linear layer's weights as MAE initialises them: Xavier-uniform kernel, zero bias. */
export function linearWeights(
  param: ParamFactory,
  name: string,
  inWidth: number,
  outWidth: number,
): { kernel: tf.Variable; bias: tf.Variable } {
  return {
    kernel: param(`${name}.kernel`, [inWidth, outWidth], (rng) =>
      xavierUniform(rng, [inWidth, outWidth], inWidth, outWidth),
    ),
    bias: param(`${name}.bias`, [outWidth], () => tf.zeros([outWidth])),
  };
}

/** A LayerNorm's weights, 1 and 0. */
export function normWeights(
  param: ParamFactory,
  name: string,
  width: number,
): { gamma: tf.Variable; beta: tf.Variable } {
  return {
    gamma: param(`${name}.gamma`, [width], () => tf.ones([width])),
    beta: param(`${name}.beta`, [width], () => tf.zeros([width])),
  };
}

/**
 * Declares a block's weights under `prefix` (`layers.3.attn.qkv.kernel`, ...): LN, attention
 * with a fused q/k/v projection (qkv bias on), LN, MLP of `mlpRatio` x width.
 */
export function transformerBlockWeights(
  param: ParamFactory,
  prefix: string,
  width: number,
  mlpRatio: number,
): TransformerBlock {
  const hidden = mlpRatio * width;
  const ln1 = normWeights(param, `${prefix}.ln1`, width);
  const qkv = linearWeights(param, `${prefix}.attn.qkv`, width, 3 * width);
  const proj = linearWeights(param, `${prefix}.attn.proj`, width, width);
  const ln2 = normWeights(param, `${prefix}.ln2`, width);
  const fc1 = linearWeights(param, `${prefix}.ffn.fc1`, width, hidden);
  const fc2 = linearWeights(param, `${prefix}.ffn.fc2`, hidden, width);
  return {
    ln1Gamma: ln1.gamma,
    ln1Beta: ln1.beta,
    qkvKernel: qkv.kernel,
    qkvBias: qkv.bias,
    projKernel: proj.kernel,
    projBias: proj.bias,
    ln2Gamma: ln2.gamma,
    ln2Beta: ln2.beta,
    fc1Kernel: fc1.kernel,
    fc1Bias: fc1.bias,
    fc2Kernel: fc2.kernel,
    fc2Bias: fc2.bias,
  };
}

/**
 * Multi-head self-attention on [B, N, D]: softmax(q kᵀ / sqrt(D/h)) v per head, heads
 * concatenated and projected.
 */
export function selfAttention(x: tf.Tensor3D, p: TransformerBlock, heads: number): tf.Tensor3D {
  const [batch, length, width] = x.shape;
  if (width % heads !== 0)
    throw new RangeError(`width ${width} is not divisible by ${heads} heads`);
  const headWidth = width / heads;
  return tf.tidy(() => {
    const qkv = dense(x, p.qkvKernel as tf.Tensor2D, p.qkvBias);
    // [B, N, 3, h, d] -> [3, B, h, N, d]: q, k and v of every head side by side.
    const split = tf.transpose(
      tf.reshape(qkv, [batch, length, 3, heads, headWidth]),
      [2, 0, 3, 1, 4],
    );
    const [q, k, v] = tf.unstack(split) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(headWidth)), k, false, true);
    const mixed = tf.matMul(tf.softmax(scores), v); // [B, h, N, d]
    const merged = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [batch, length, width]);
    return dense(merged, p.projKernel as tf.Tensor2D, p.projBias) as tf.Tensor3D;
  });
}

/**
 * One pre-norm block: x + attn(LN(x)), then + MLP(LN(·)) with the exact GELU; LayerNorm eps
 * 1e-6. `drop` applies stochastic depth to both branches with per-image 0/1 draws.
 */
export function transformerBlock(
  x: tf.Tensor3D,
  p: TransformerBlock,
  heads: number,
  drop?: { keep: number[]; rate: number },
): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, length, width] = x.shape;
    // dropPath scales [B, 1, 1, 1]: give it the tokens as a 4-D tensor.
    const maybeDrop = (branch: tf.Tensor) =>
      drop
        ? tf.reshape(
            dropPath(tf.reshape(branch, [batch, length, width, 1]), drop.keep, drop.rate),
            [batch, length, width],
          )
        : branch;
    const attended = selfAttention(layerNorm(x, p.ln1Gamma, p.ln1Beta) as tf.Tensor3D, p, heads);
    const y = tf.add(x, maybeDrop(attended));
    const hidden = gelu(
      dense(layerNorm(y, p.ln2Gamma, p.ln2Beta), p.fc1Kernel as tf.Tensor2D, p.fc1Bias),
    );
    const mlp = dense(hidden, p.fc2Kernel as tf.Tensor2D, p.fc2Bias);
    return tf.add(y, maybeDrop(mlp)) as tf.Tensor3D;
  });
}
