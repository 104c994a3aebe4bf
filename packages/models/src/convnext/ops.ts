import * as tf from '@tensorflow/tfjs-core';

/**
 * Building blocks shared by the ConvNeXt encoder, the SparK decoder and the heads. All
 * tensors are NHWC; masks are "active" maps, 1 = visible, of shape [B, h, w, 1].
 */

/** LayerNorm over the channel (last) axis, eps 1e-6 as in ConvNeXt. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** The exact (erf) GELU, PyTorch's default: 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** A linear layer on the last axis of an NHWC tensor (ConvNeXt's point-wise "1x1 convs"). */
export function dense(x: tf.Tensor, kernel: tf.Tensor2D, bias: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const rows = tf.reshape(x, [-1, shape[shape.length - 1] as number]) as tf.Tensor2D;
    const out = tf.add(tf.matMul(rows, kernel), bias);
    return tf.reshape(out, [...shape.slice(0, -1), kernel.shape[1]]);
  });
}

/**
 * The active map at a feature map's resolution: each cell of the coarse mask repeated
 * (nearest up-sampling), as SparK propagates its mask to every scale.
 */
export function maskAt(active: tf.Tensor4D, height: number): tf.Tensor4D {
  const [batch, cells] = active.shape;
  if (height === cells) return tf.clone(active);
  if (height % cells !== 0)
    throw new RangeError(`feature size ${height} is not a multiple of the ${cells}-cell mask`);
  const r = height / cells;
  return tf.tidy(() =>
    tf.reshape(tf.tile(tf.reshape(active, [batch, cells, 1, cells, 1, 1]), [1, 1, r, 1, r, 1]), [
      batch,
      height,
      height,
      1,
    ]),
  );
}

/**
 * Batch normalisation over N, H, W from moments (faster on wasm than tf.batchNorm, whose
 * gradient tiles). In training it uses the batch statistics and returns them so the caller
 * can update its running averages.
 */
export function batchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  stats: { mean: tf.Tensor; variance: tf.Tensor },
  eps = 1e-5,
): tf.Tensor4D {
  return tf.tidy(
    () =>
      tf.add(
        tf.mul(tf.div(tf.sub(x, stats.mean), tf.sqrt(tf.add(stats.variance, eps))), gamma),
        beta,
      ) as tf.Tensor4D,
  );
}

/**
 * Stochastic depth: each sample's branch kept with probability 1 - rate and scaled by
 * 1 / (1 - rate). `keep` is a [B] vector of 0/1 drawn by the caller's seeded generator.
 */
export function dropPath(branch: tf.Tensor, keep: number[], rate: number): tf.Tensor {
  return tf.tidy(() => {
    const scale = tf.tensor(
      keep.map((k) => k / (1 - rate)),
      [keep.length, 1, 1, 1],
    );
    return tf.mul(branch, scale);
  });
}
