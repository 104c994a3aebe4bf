import * as tf from '@tensorflow/tfjs-core';

/**
 * [B, H, W, C] -> [B, (H/p)(W/p), p*p*C]: non-overlapping p x p patches in row-major patch
 * order, each flattened over (row, column, channel).
 */
export function patchify(images: tf.Tensor4D, patchSize: number): tf.Tensor3D {
  const [batch, height, width, channels] = images.shape;
  if (height % patchSize !== 0 || width % patchSize !== 0) {
    throw new RangeError(
      `image ${height}x${width} is not a whole number of ${patchSize}-px patches`,
    );
  }
  const rows = height / patchSize;
  const columns = width / patchSize;
  return tf.tidy(() => {
    const split = tf.reshape(images, [batch, rows, patchSize, columns, patchSize, channels]);
    const grouped = tf.transpose(split, [0, 1, 3, 2, 4, 5]);
    return tf.reshape(grouped, [
      batch,
      rows * columns,
      patchSize * patchSize * channels,
    ]) as tf.Tensor3D;
  });
}

/**
 * SparK's reconstruction loss (docs/algorithms.md#spark-loss): the target is the normalised input
 * cut into patches, each patch normalised by its own mean and unbiased variance (norm_pix); the
 * error is the mean squared error per patch, averaged over the masked patches of the whole batch.
 * `active` is [B, H/p, W/p, 1] with 1 = visible; visible patches contribute nothing.
 */
export function sparkReconstructionLoss(
  prediction: tf.Tensor4D,
  target: tf.Tensor4D,
  active: tf.Tensor4D,
  patchSize = 32,
): tf.Scalar {
  return tf.tidy(() => {
    const predicted = patchify(prediction, patchSize);
    const truth = patchify(target, patchSize);
    const values = truth.shape[2];
    const { mean, variance } = tf.moments(truth, -1, true);
    const unbiased = tf.mul(variance, values / (values - 1));
    const normalised = tf.div(tf.sub(truth, mean), tf.sqrt(tf.add(unbiased, 1e-6)));
    const perPatch = tf.mean(tf.square(tf.sub(predicted, normalised)), -1); // [B, L]
    const masked = tf.sub(1, tf.reshape(active, perPatch.shape));
    const maskedCount = tf.sum(masked);
    // A batch without a masked patch has nothing to reconstruct: loss 0, not 0/0.
    return tf.div(tf.sum(tf.mul(perPatch, masked)), tf.maximum(maskedCount, 1)) as tf.Scalar;
  });
}
