import * as tf from '@tensorflow/tfjs-core';

/** SimCLR's temperature in MMPreTrain's ContrastiveHead. */
export const SIMCLR_TEMPERATURE = 0.1;

/**
 * NT-Xent as MMPreTrain's SimCLR computes it (docs/algorithms.md#nt-xent-loss). `embeddings`
 * [2N, D] holds the two views of image k in rows 2k and 2k + 1. Rows are L2-normalised
 * (z / (‖z‖ + 1e-10)), the cosine similarities divided by the temperature; for each row the
 * logits are its partner view (the positive) and the 2N - 2 other rows (the negatives), the loss
 * is the cross entropy with the positive as the target, averaged over the 2N rows.
 */
export function ntXentLoss(embeddings: tf.Tensor2D, temperature = SIMCLR_TEMPERATURE): tf.Scalar {
  const [rows, width] = embeddings.shape;
  if (rows < 2 || rows % 2 !== 0) {
    throw new RangeError(`NT-Xent needs two views per image (an even number of rows), got ${rows}`);
  }
  if (!(temperature > 0)) {
    throw new RangeError(`NT-Xent temperature must be > 0, got ${temperature}`);
  }
  return tf.tidy(() => {
    const z = tf.div(embeddings, tf.add(tf.norm(embeddings, 2, 1, true), 1e-10)) as tf.Tensor2D;
    const logits = tf.div(tf.matMul(z, z, false, true), temperature);
    // Each row's own similarity is not a logit: pushed far below the others, its softmax weight is 0.
    const withoutSelf = tf.sub(logits, tf.mul(tf.eye(rows), 1e9));
    // The partner of row 2k is 2k + 1 and back: swap the two views of each pair.
    const pairs = tf.reshape(z, [rows / 2, 2, width]);
    const [first, second] = tf.split(pairs, 2, 1);
    const partners = tf.reshape(tf.concat([second as tf.Tensor, first as tf.Tensor], 1), [
      rows,
      width,
    ]);
    const positive = tf.div(tf.sum(tf.mul(z, partners), 1), temperature);
    return tf.mean(tf.sub(tf.logSumExp(withoutSelf, 1), positive)) as tf.Scalar;
  });
}
