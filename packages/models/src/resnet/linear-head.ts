import * as tf from '@tensorflow/tfjs-core';
import { truncatedNormal } from '../convnext/init.js';
import { ParamLayer, type ParamLayerArgs } from '../convnext/param-layer.js';

export interface LinearHeadArgs extends ParamLayerArgs {
  inChannels: number;
  numClasses: number;
}

/**
 * Global average pooling and a linear layer: MMPreTrain's ResNet classifier
 * (GlobalAveragePooling neck, LinearClsHead with Normal(0, 0.01) weights and zero bias).
 * Input: the last stage's map [B, H, W, C]; output: logits [B, numClasses].
 */
export class LinearHead extends ParamLayer {
  static readonly className = 'MasksweepLinearHead';
  readonly inChannels: number;
  readonly numClasses: number;
  private kernel?: tf.Variable;
  private bias?: tf.Variable;

  constructor(args: LinearHeadArgs) {
    super(args);
    for (const field of ['inChannels', 'numClasses'] as const) {
      const value = args[field];
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`LinearHead ${field} must be a positive integer, got ${value}`);
      }
    }
    this.inChannels = args.inChannels;
    this.numClasses = args.numClasses;
  }

  override build(_inputShape?: unknown): void {
    const shape = [this.inChannels, this.numClasses];
    this.kernel = this.param('fc.kernel', shape, (rng) =>
      truncatedNormal(rng, shape, 0.01, Number.POSITIVE_INFINITY),
    );
    this.bias = this.param('fc.bias', [this.numClasses], () => tf.zeros([this.numClasses]));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[] {
    return [(inputShape as number[])[0] as number, this.numClasses];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor2D {
    const features = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    if (features.rank !== 4 || features.shape[3] !== this.inChannels) {
      throw new RangeError(
        `LinearHead expects [B, H, W, ${this.inChannels}] features, got [${features.shape}]`,
      );
    }
    return tf.tidy(() =>
      tf.add(
        tf.matMul(tf.mean(features, [1, 2]) as tf.Tensor2D, this.kernel as tf.Tensor2D),
        this.bias as tf.Tensor,
      ),
    );
  }

  override getConfig() {
    return { ...super.getConfig(), inChannels: this.inChannels, numClasses: this.numClasses };
  }
}
tf.serialization.registerClass(LinearHead);
