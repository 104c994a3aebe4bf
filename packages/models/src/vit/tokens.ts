import * as tf from '@tensorflow/tfjs-core';

/**
 * Token helpers for the ViT, its MAE decoder and the classifier. Token tensors are
 * [B, N, D]; where a cls token is present it is token 0.
 */

/**
 * The tokens at `ids` ([B, K] int32) of each image: [B, L, D] -> [B, K, D] (torch.gather on
 * dim 1). One flat gather of rows, whose gradient is the scatter the wasm backend has.
 */
export function gatherTokens(tokens: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor3D {
  const [batch, length, width] = tokens.shape;
  const picked = ids.shape[1];
  return tf.tidy(() => {
    const offsets = tf.tensor2d(
      Array.from({ length: batch }, (_, b) => [b * length]),
      [batch, 1],
      'int32',
    );
    const rows = tf.reshape(tf.add(ids, offsets), [batch * picked]);
    const flat = tf.gather(tf.reshape(tokens, [batch * length, width]), rows);
    return tf.reshape(flat, [batch, picked, width]) as tf.Tensor3D;
  });
}

/**
 * A [1, N, D] parameter repeated over the batch. Broadcasting an add (not tf.tile) keeps the
 * gradient a single sum: tile's gradient is one slice per repeat.
 */
export function repeatOverBatch(token: tf.Tensor, batch: number, count = 1): tf.Tensor3D {
  const width = token.shape[token.shape.length - 1] as number;
  return tf.tidy(() => tf.add(tf.zeros([batch, count, width]), token) as tf.Tensor3D);
}

/** Patch tokens (cls dropped) laid out on the g x g patch grid: [B, 1 + g², D] -> [B, g, g, D]. */
export function tokensToGrid(tokens: tf.Tensor3D): tf.Tensor4D {
  const [batch, length, width] = tokens.shape;
  const gridSize = Math.round(Math.sqrt(length - 1));
  if (gridSize * gridSize !== length - 1)
    throw new RangeError(`${length - 1} patch tokens do not form a square grid`);
  return tf.tidy(
    () =>
      tf.reshape(tf.slice(tokens, [0, 1, 0], [batch, length - 1, width]), [
        batch,
        gridSize,
        gridSize,
        width,
      ]) as tf.Tensor4D,
  );
}
