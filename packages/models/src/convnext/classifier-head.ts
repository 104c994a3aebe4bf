import * as tf from '@tensorflow/tfjs-core';
import { truncatedNormal } from './init.js';
import { layerNorm } from './ops.js';
import { ParamLayer, type ParamLayerArgs } from './param-layer.js';

export interface ClassifierHeadArgs extends ParamLayerArgs {
  inChannels: number;
  numClasses: number;
}

/**
 * Global average pooling, LayerNorm and a linear layer: MMPreTrain's ConvNeXt classifier
 * (`gap_before_final_norm`, `norm3`, LinearClsHead with Normal(0, 0.01) init).
 */
export class ClassifierHead extends ParamLayer {
  static readonly className = 'MasksweepClassifierHead';
  readonly inChannels: number;
  readonly numClasses: number;
  private normGamma?: tf.Variable;
  private normBeta?: tf.Variable;
  private kernel?: tf.Variable;
  private bias?: tf.Variable;

  constructor(args: ClassifierHeadArgs) {
    super(args);
    this.inChannels = args.inChannels;
    this.numClasses = args.numClasses;
  }

  override build(_inputShape?: unknown): void {
    const c = this.inChannels;
    const k = this.numClasses;
    this.normGamma = this.param('norm.gamma', [c], () => tf.ones([c]));
    this.normBeta = this.param('norm.beta', [c], () => tf.zeros([c]));
    this.kernel = this.param('fc.kernel', [c, k], (rng) =>
      truncatedNormal(rng, [c, k], 0.01, Number.POSITIVE_INFINITY),
    );
    this.bias = this.param('fc.bias', [k], () => tf.zeros([k]));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[] {
    return [(inputShape as number[])[0] as number, this.numClasses];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const features = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const pooled = layerNorm(
        tf.mean(features, [1, 2]),
        this.normGamma as tf.Tensor,
        this.normBeta as tf.Tensor,
      );
      return tf.add(
        tf.matMul(pooled as tf.Tensor2D, this.kernel as tf.Tensor2D),
        this.bias as tf.Tensor,
      );
    });
  }

  override getConfig() {
    return { ...super.getConfig(), inChannels: this.inChannels, numClasses: this.numClasses };
  }
}
tf.serialization.registerClass(ClassifierHead);
