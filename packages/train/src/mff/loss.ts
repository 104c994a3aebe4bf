import * as tf from '@tensorflow/tfjs-core';
import { sparkReconstructionLoss } from '../spark-loss.js';

/**
 * [B, L, p·p·C] -> [B, H, W, C]: each patch back in place, the inverse of `patchify`
 * (row-major patches, each flattened over row, column, channel, as MAE's patchify).
 */
export function unpatchify(
  patches: tf.Tensor3D,
  patchSize: number,
  height: number,
  width: number,
): tf.Tensor4D {
  const [batch, length, values] = patches.shape;
  const rows = height / patchSize;
  const columns = width / patchSize;
  const channels = values / (patchSize * patchSize);
  if (rows * columns !== length || !Number.isInteger(channels)) {
    throw new RangeError(
      `${length} patches of ${values} values do not tile a ${height}x${width} image in ${patchSize}-px patches`,
    );
  }
  return tf.tidy(() => {
    const grid = tf.reshape(patches, [batch, rows, columns, patchSize, patchSize, channels]);
    return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [
      batch,
      height,
      width,
      channels,
    ]) as tf.Tensor4D;
  });
}

/**
 * MAE's and MFF's loss (docs/algorithms.md#mae-decoder-and-loss, MAEPretrainHead): every target
 * patch normalised by its own mean and unbiased variance (eps 1e-6), the squared error averaged
 * over the patch, then over the removed patches of the whole batch. That is SparK's loss
 * (docs/algorithms.md#spark-loss) on patch-shaped predictions, so the predictions are put back on
 * the image and handed to it. prediction [B, L, p·p·C]; images [B, H, W, C] normalised;
 * removed [B, L], 1 = removed.
 */
export function maeReconstructionLoss(
  prediction: tf.Tensor3D,
  images: tf.Tensor4D,
  removed: tf.Tensor2D,
  patchSize: number,
): tf.Scalar {
  const [batch, height, width] = images.shape;
  return tf.tidy(() => {
    const active = tf.reshape(tf.sub(1, removed), [
      batch,
      height / patchSize,
      width / patchSize,
      1,
    ]) as tf.Tensor4D;
    const predicted = unpatchify(prediction, patchSize, height, width);
    return sparkReconstructionLoss(predicted, images, active, patchSize);
  });
}
