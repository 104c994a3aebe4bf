import * as tf from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types.js';
import { pytorchDefaultUniform } from '../convnext/init.js';
import {
  BatchNormLayer,
  type BatchNormLayerArgs,
  type BatchNormParams,
} from './batch-norm-layer.js';

export interface NonLinearNeckArgs extends BatchNormLayerArgs {
  /** Feature channels coming in (2048 for ResNet-50). */
  inChannels: number;
  /** Width of the hidden layer (2048 in MMPreTrain's SimCLR). */
  hidChannels: number;
  /** Width of the projection, the embedding NT-Xent compares (128). */
  outChannels: number;
  /**
   * Global-average-pool a [B, H, W, C] map first; false takes [B, C] vectors.
   * @default true
   */
  withAvgPool?: boolean;
}

/**
 * SimCLR's projection head, MMPreTrain's NonLinearNeck with num_layers 2
 * (docs/algorithms.md#simclr): [GAP] -> fc0 (no bias) -> BN -> ReLU -> fc1 (no bias) -> BN (affine,
 * with_last_bn). Linear layers keep PyTorch's default init, the batch norms start at gamma 1.
 */
export class NonLinearNeck extends BatchNormLayer {
  static readonly className = 'MasksweepNonLinearNeck';
  readonly inChannels: number;
  readonly hidChannels: number;
  readonly outChannels: number;
  readonly withAvgPool: boolean;
  private fc0?: tf.Variable;
  private bn0?: BatchNormParams;
  private fc1?: tf.Variable;
  private bn1?: BatchNormParams;

  constructor(args: NonLinearNeckArgs) {
    super(args);
    for (const field of ['inChannels', 'hidChannels', 'outChannels'] as const) {
      const value = args[field];
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`NonLinearNeck ${field} must be a positive integer, got ${value}`);
      }
    }
    this.inChannels = args.inChannels;
    this.hidChannels = args.hidChannels;
    this.outChannels = args.outChannels;
    this.withAvgPool = args.withAvgPool ?? true;
  }

  override build(_inputShape?: unknown): void {
    const linear = (name: string, inWidth: number, outWidth: number) =>
      this.param(`${name}.kernel`, [inWidth, outWidth], (rng) =>
        pytorchDefaultUniform(rng, [inWidth, outWidth], inWidth),
      );
    this.fc0 = linear('fc0', this.inChannels, this.hidChannels);
    this.bn0 = this.batchNormParams('bn0', this.hidChannels);
    this.fc1 = linear('fc1', this.hidChannels, this.outChannels);
    this.bn1 = this.batchNormParams('bn1', this.outChannels);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[] {
    return [(inputShape as number[])[0] as number, this.outChannels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor2D {
    const features = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
    const expected = this.withAvgPool ? `[B, H, W, ${this.inChannels}]` : `[B, ${this.inChannels}]`;
    if (
      features.rank !== (this.withAvgPool ? 4 : 2) ||
      features.shape[features.rank - 1] !== this.inChannels
    ) {
      throw new RangeError(`NonLinearNeck expects ${expected} features, got [${features.shape}]`);
    }
    const training = Boolean(kwargs.training);
    return tf.tidy(() => {
      const pooled = (this.withAvgPool ? tf.mean(features, [1, 2]) : features) as tf.Tensor2D;
      const hidden = tf.relu(
        this.linearBn(pooled, this.fc0 as tf.Variable, this.bn0 as BatchNormParams, training),
      );
      return this.linearBn(hidden, this.fc1 as tf.Variable, this.bn1 as BatchNormParams, training);
    });
  }

  /** A linear layer and a BatchNorm1d, the latter as a 2-D batch norm over [B, 1, 1, C]. */
  private linearBn(
    x: tf.Tensor2D,
    kernel: tf.Variable,
    bn: BatchNormParams,
    training: boolean,
  ): tf.Tensor2D {
    const projected = tf.matMul(x, kernel as tf.Tensor2D);
    const [batch, channels] = projected.shape;
    const normed = this.batchNorm(tf.reshape(projected, [batch, 1, 1, channels]), bn, training);
    return tf.reshape(normed, [batch, channels]);
  }

  override getConfig() {
    return {
      ...super.getConfig(),
      inChannels: this.inChannels,
      hidChannels: this.hidChannels,
      outChannels: this.outChannels,
      withAvgPool: this.withAvgPool,
    };
  }
}
tf.serialization.registerClass(NonLinearNeck);
