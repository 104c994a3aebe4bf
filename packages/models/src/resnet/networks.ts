import * as tf from '@tensorflow/tfjs-core';
import { built, LayeredNetwork } from '../layered-network.js';
import { LinearHead } from './linear-head.js';
import { NonLinearNeck } from './non-linear-neck.js';
import { ResNet, type ResNetDepth } from './resnet.js';

/** A ResNet's shape, as a trial's model settings give it. */
export interface ResNetConfig {
  depth: ResNetDepth;
  /** Middle channels per stage. @default RESNET_WIDTHS */
  widths?: readonly number[];
  /** @default 1 */
  inChannels?: number;
}

export interface SimCLRConfig extends ResNetConfig {
  /** The neck's hidden width. @default the backbone's feature channels (2048 for ResNet-50) */
  hidChannels?: number;
  /** The embedding width. @default 128 */
  outChannels?: number;
  seed: number;
}

/**
 * SimCLR for pre-training (docs/algorithms.md#simclr): the ResNet backbone and the NonLinearNeck
 * projection. The views of a batch go through together, so batch norms see all of them.
 */
export class SimCLRNetwork extends LayeredNetwork {
  readonly encoder: ResNet;
  readonly neck: NonLinearNeck;

  constructor(readonly config: SimCLRConfig) {
    super();
    this.encoder = built(new ResNet(config));
    const features = this.encoder.featureChannels;
    this.neck = built(
      new NonLinearNeck({
        inChannels: features,
        hidChannels: config.hidChannels ?? features,
        outChannels: config.outChannels ?? 128,
        seed: config.seed + 1,
      }),
    );
  }

  protected layers() {
    return { encoder: this.encoder, neck: this.neck };
  }

  /** The projections [B, outChannels] of normalised images [B, H, W, C] (not L2-normalised). */
  embed(images: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const stages = this.encoder.apply(images, { training }) as tf.Tensor4D[];
      return this.neck.apply(stages[3] as tf.Tensor4D, { training }) as tf.Tensor2D;
    });
  }
}

/** The fine-tuning network: the ResNet backbone and a linear classifier on its pooled features. */
export class ResNetClassifier extends LayeredNetwork {
  readonly encoder: ResNet;
  readonly head: LinearHead;

  constructor(readonly config: ResNetConfig & { numClasses: number; seed: number }) {
    super();
    this.encoder = built(new ResNet(config));
    this.head = built(
      new LinearHead({
        inChannels: this.encoder.featureChannels,
        numClasses: config.numClasses,
        seed: config.seed + 2,
      }),
    );
  }

  protected layers() {
    return { encoder: this.encoder, head: this.head };
  }

  /** The four stage outputs; the last (`layer4`) is Grad-CAM's target layer. */
  features(image: tf.Tensor4D, training: boolean): tf.Tensor4D[] {
    return this.encoder.apply(image, { training }) as tf.Tensor4D[];
  }

  logits(image: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => this.classify(this.features(image, training)[3] as tf.Tensor4D));
  }

  /** The head on given last-stage features (Grad-CAM differentiates through this). */
  classify(lastStage: tf.Tensor4D): tf.Tensor2D {
    return this.head.apply(lastStage) as tf.Tensor2D;
  }
}
