import * as tf from '@tensorflow/tfjs-core';
import { batchNorm } from '../convnext/ops.js';
import { ParamLayer, type ParamLayerArgs } from '../convnext/param-layer.js';

export interface BatchNormLayerArgs extends ParamLayerArgs {
  /** Running-statistics momentum of the batch norms (PyTorch's 0.1). */
  bnMomentum?: number;
}

/** One batch norm's weights: the affine pair and the running statistics (not trained). */
export interface BatchNormParams {
  gamma: tf.Variable;
  beta: tf.Variable;
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
}

/**
 * A ParamLayer with PyTorch-style batch norms: in training they normalise with the batch's
 * statistics and update the running ones (momentum, unbiased variance); in inference they
 * use the running ones. Weights are `<at>.gamma`, `<at>.beta`, `<at>.moving_mean` and
 * `<at>.moving_variance`, as in the SparK decoder.
 */
export abstract class BatchNormLayer extends ParamLayer {
  readonly bnMomentum: number;

  constructor(args: BatchNormLayerArgs) {
    super(args);
    const momentum = args.bnMomentum ?? 0.1;
    if (!(momentum > 0 && momentum <= 1)) {
      throw new RangeError(`bnMomentum must be in (0, 1], got ${momentum}`);
    }
    this.bnMomentum = momentum;
  }

  /** Adds the weights of a batch norm over `channels`; gamma starts at `gammaInit`. */
  protected batchNormParams(at: string, channels: number, gammaInit = 1): BatchNormParams {
    return {
      gamma: this.param(`${at}.gamma`, [channels], () => tf.fill([channels], gammaInit)),
      beta: this.param(`${at}.beta`, [channels], () => tf.zeros([channels])),
      movingMean: this.param(`${at}.moving_mean`, [channels], () => tf.zeros([channels]), false),
      movingVariance: this.param(
        `${at}.moving_variance`,
        [channels],
        () => tf.ones([channels]),
        false,
      ),
    };
  }

  /** Batch norm of an NHWC map over N, H and W (a [N, C] vector is normalised as [N, 1, 1, C]). */
  protected batchNorm(x: tf.Tensor4D, p: BatchNormParams, training: boolean): tf.Tensor4D {
    if (!training) {
      return batchNorm(x, p.gamma, p.beta, { mean: p.movingMean, variance: p.movingVariance });
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const n = x.size / (x.shape[3] as number);
      const momentum = this.bnMomentum;
      // The running statistics take no gradient: they are assigned, never differentiated.
      tf.tidy(() => {
        const unbiased = tf.mul(variance, n / Math.max(1, n - 1));
        p.movingMean.assign(tf.add(tf.mul(p.movingMean, 1 - momentum), tf.mul(mean, momentum)));
        p.movingVariance.assign(
          tf.add(tf.mul(p.movingVariance, 1 - momentum), tf.mul(unbiased, momentum)),
        );
      });
      return batchNorm(x, p.gamma, p.beta, { mean, variance });
    });
  }

  override getConfig() {
    return { ...super.getConfig(), bnMomentum: this.bnMomentum };
  }
}
