import * as tf from '@tensorflow/tfjs-core';
import { DivergedError } from './diverged.js';
import { allFinite, clipByGlobalNorm, type Optimizer } from './optimizers.js';

/**
 * One update: the loss's gradients for the named weights, clipped to `gradClip` when set,
 * then an optimiser step. A NaN or infinite loss or gradient norm throws DivergedError
 * before any weight changes. Returns the loss. Call inside tf.tidy.
 */
export function optimizerStep(
  loss: () => tf.Scalar,
  named: ReadonlyArray<[string, tf.Variable]>,
  optimizer: Pick<Optimizer, 'step'>,
  at: { stage: string; step: number; lr: number; weightDecay: number; gradClip?: number },
): number {
  const { value, grads } = tf.variableGrads(
    loss,
    named.map(([, v]) => v),
  );
  const lossValue = value.dataSync()[0] as number;
  const byName = new Map(named.map(([name, v]) => [name, grads[v.name] as tf.Tensor]));
  const clipped = at.gradClip ? clipByGlobalNorm(byName, at.gradClip) : { grads: byName, norm: 0 };
  if (!allFinite(lossValue) || !allFinite(clipped.norm)) {
    throw new DivergedError(
      at.stage,
      at.step,
      at.lr,
      allFinite(lossValue) ? clipped.norm : lossValue,
    );
  }
  optimizer.step(clipped.grads, at.lr, at.weightDecay);
  return lossValue;
}
