import * as tf from '@tensorflow/tfjs-core';
import { built, LayeredNetwork } from '../layered-network.js';
import { ClassifierHead } from './classifier-head.js';
import { SparKDecoder } from './decoder.js';
import { ConvNeXtEncoder } from './encoder.js';
import { maskAt } from './ops.js';

export interface ConvNeXtConfig {
  depths: number[];
  widths: number[];
  dropPath: number;
  decoderWidth: number;
  /** Each block's layer scale at initialisation. @default 1e-6 */
  layerScaleInit?: number;
}

/** The total stride of ConvNeXt, hence SparK's patch size. */
export const PATCH_SIZE = 32;

/**
 * SparK for pre-training: the image is zeroed at masked patches, encoded (sparse, or dense for
 * the ablation) and reconstructed in full by the light decoder.
 */
export class SparKNetwork extends LayeredNetwork {
  readonly encoder: ConvNeXtEncoder;
  readonly decoder: SparKDecoder;

  constructor(
    readonly config: ConvNeXtConfig & { sparse: boolean; inChannels?: number; seed: number },
  ) {
    super();
    const inChannels = config.inChannels ?? 1;
    this.encoder = built(
      new ConvNeXtEncoder({
        ...config,
        inChannels,
        dropPathRate: config.dropPath,
        seed: config.seed,
      }),
    );
    this.decoder = built(
      new SparKDecoder({
        encoderWidths: config.widths,
        decoderWidth: config.decoderWidth,
        outChannels: inChannels,
        seed: config.seed + 1,
      }),
    );
  }

  protected layers() {
    return { encoder: this.encoder, decoder: this.decoder };
  }

  /** image [B,H,W,C] normalised; active [B,H/32,W/32,1], 1 = visible. */
  reconstruct(image: tf.Tensor4D, active: tf.Tensor4D, training: boolean): tf.Tensor4D {
    return tf.tidy(() => {
      const masked = tf.mul(image, maskAt(active, image.shape[1])) as tf.Tensor4D;
      const features = this.encoder.apply([masked, active], { training }) as tf.Tensor[];
      return this.decoder.apply([...features, active], { training }) as tf.Tensor4D;
    });
  }
}

/**
 * The fine-tuning network: a dense ConvNeXt encoder and the classifier head. Sparse and
 * dense encoders have the same weight names, so `loadEncoder` takes either's pre-training.
 */
export class ConvNeXtClassifier extends LayeredNetwork {
  readonly encoder: ConvNeXtEncoder;
  readonly head: ClassifierHead;

  constructor(
    readonly config: ConvNeXtConfig & { numClasses: number; inChannels?: number; seed: number },
  ) {
    super();
    this.encoder = built(
      new ConvNeXtEncoder({
        ...config,
        inChannels: config.inChannels ?? 1,
        sparse: false,
        dropPathRate: config.dropPath,
        seed: config.seed,
      }),
    );
    const last = config.widths[3] as number;
    this.head = built(
      new ClassifierHead({
        inChannels: last,
        numClasses: config.numClasses,
        seed: config.seed + 2,
      }),
    );
  }

  protected layers() {
    return { encoder: this.encoder, head: this.head };
  }

  /** The four stage outputs; the last is Grad-CAM's target layer. */
  features(image: tf.Tensor4D, training: boolean): tf.Tensor4D[] {
    return tf.tidy(() => {
      const [batch, height, width] = image.shape;
      const allVisible = tf.ones([batch, height / PATCH_SIZE, width / PATCH_SIZE, 1]);
      return this.encoder.apply([image, allVisible], { training }) as tf.Tensor4D[];
    });
  }

  logits(image: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => this.classify(this.features(image, training)[3] as tf.Tensor4D));
  }

  /** The head on given last-stage features (Grad-CAM differentiates through this). */
  classify(lastStage: tf.Tensor4D): tf.Tensor2D {
    return this.head.apply(lastStage) as tf.Tensor2D;
  }
}
