/**
 * Class-weighted cross entropy as MMPreTrain computes it
 * (docs/algorithms.md#class-weighted-cross-entropy): for one-hot or soft (Mixup/CutMix) targets,
 * ℓ_i = −Σ_c w_c·ỹ_ic·log softmax(z_i)_c, and the loss is the plain mean over the N samples —
 * divided by N, not by Σ w (unlike PyTorch's weighted mean).
 */

import { InvalidArgumentError } from '@masksweep/stats';
import * as tf from '@tensorflow/tfjs-core';

export function weightedCrossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor2D,
  classWeights: readonly number[],
): tf.Scalar {
  if (logits.rank !== 2) {
    throw new InvalidArgumentError('logits', `must be [N, C], got [${logits.shape}]`);
  }
  const [samples, classes] = logits.shape;
  if (samples === 0 || classes === 0) {
    throw new InvalidArgumentError('logits', `needs samples and classes, got [${logits.shape}]`);
  }
  if (!tf.util.arraysEqual(targets.shape, logits.shape)) {
    throw new InvalidArgumentError(
      'targets',
      `must have the logits' shape [${logits.shape}], got [${targets.shape}]`,
    );
  }
  if (classWeights.length !== classes) {
    throw new InvalidArgumentError(
      'classWeights',
      `needs one weight per class (${classes}), got ${classWeights.length}`,
    );
  }
  classWeights.forEach((weight, index) => {
    if (!Number.isFinite(weight) || weight < 0) {
      throw new InvalidArgumentError(
        `classWeights[${index}]`,
        `must be a finite number >= 0, got ${weight}`,
      );
    }
  });
  return tf.tidy(() => {
    // logSoftmax is the stable log(softmax), also for large logits.
    const logProbabilities = tf.logSoftmax(logits);
    const weightedTargets = tf.mul(targets, tf.tensor1d([...classWeights]));
    const perSample = tf.neg(tf.sum(tf.mul(weightedTargets, logProbabilities), 1));
    return tf.mean(perSample) as tf.Scalar;
  });
}
