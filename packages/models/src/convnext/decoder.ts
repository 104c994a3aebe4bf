import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types.js';
import { kaimingNormalFanOut, pytorchDefaultUniform, truncatedNormal } from './init.js';
import { batchNorm, layerNorm, maskAt } from './ops.js';
import { ParamLayer, type ParamLayerArgs } from './param-layer.js';

export interface SparKDecoderArgs extends ParamLayerArgs {
  /** The encoder's stage widths, finest first (e.g. [96, 192, 384, 768]). */
  encoderWidths: number[];
  /** D: width of the coarsest decoder level; it halves at each of the 5 up-sampling blocks. */
  decoderWidth: number;
  outChannels?: number;
  /** Running-statistics momentum of the batch norms (PyTorch's 0.1). */
  bnMomentum?: number;
}

interface Densify {
  normGamma: tf.Variable;
  normBeta: tf.Variable;
  maskToken: tf.Variable;
  /** Absent when the coarsest level already has the decoder's width (identity, as SPK). */
  kernel?: tf.Variable;
  bias?: tf.Variable;
}

interface BatchNormParams {
  gamma: tf.Variable;
  beta: tf.Variable;
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
}

interface UpBlock {
  upKernel: tf.Variable;
  upBias: tf.Variable;
  conv1: tf.Variable;
  bn1: BatchNormParams;
  conv2: tf.Variable;
  bn2: BatchNormParams;
}

const UP_BLOCKS = 5; // log2 of the total stride 32
const DECODER_CONV_STD = 0.02;
/** timm's (and PyTorch's) trunc_normal_ default cut, in absolute units, not in stds. */
const TIMM_TRUNC_BOUND = 2;

/**
 * SparK's "densify" step and light decoder (docs/algorithms.md#spark-decoder). Inputs: the
 * encoder's four feature maps (finest first) and the active map; output: the reconstructed image.
 * Each scale is normalised (sparse LN), gets its learnable mask token at masked positions, is
 * projected to the decoder width of its level and added before that level's block.
 */
export class SparKDecoder extends ParamLayer {
  static readonly className = 'MasksweepSparKDecoder';
  readonly encoderWidths: number[];
  readonly decoderWidth: number;
  readonly outChannels: number;
  readonly bnMomentum: number;
  private densify: Densify[] = [];
  private blocks: UpBlock[] = [];
  private headKernel?: tf.Variable;
  private headBias?: tf.Variable;

  constructor(args: SparKDecoderArgs) {
    super(args);
    if (args.decoderWidth % 2 ** UP_BLOCKS !== 0) {
      throw new RangeError(
        `decoderWidth must be a multiple of 32 (it halves 5 times), got ${args.decoderWidth}`,
      );
    }
    this.encoderWidths = args.encoderWidths;
    this.decoderWidth = args.decoderWidth;
    this.outChannels = args.outChannels ?? 1;
    this.bnMomentum = args.bnMomentum ?? 0.1;
  }

  override build(_inputShape?: unknown): void {
    const coarseFirst = [...this.encoderWidths].reverse();
    this.densify = coarseFirst.map((c, i) => {
      const out = this.decoderWidth / 2 ** i;
      const k = i === 0 ? 1 : 3;
      const at = `densify.${i}`;
      const level: Densify = {
        normGamma: this.param(`${at}.norm.gamma`, [c], () => tf.ones([c])),
        normBeta: this.param(`${at}.norm.beta`, [c], () => tf.zeros([c])),
        maskToken: this.param(`${at}.mask_token`, [c], (rng) =>
          truncatedNormal(rng, [c], 0.02, 0.02),
        ),
      };
      if (!(i === 0 && c === out)) {
        level.kernel = this.param(`${at}.proj.kernel`, [k, k, c, out], (rng) =>
          pytorchDefaultUniform(rng, [k, k, c, out], k * k * c),
        );
        level.bias = this.param(`${at}.proj.bias`, [out], (rng) =>
          pytorchDefaultUniform(rng, [out], k * k * c),
        );
      }
      return level;
    });
    const bn = (at: string, c: number): BatchNormParams => ({
      gamma: this.param(`${at}.gamma`, [c], () => tf.ones([c])),
      beta: this.param(`${at}.beta`, [c], () => tf.zeros([c])),
      movingMean: this.param(`${at}.moving_mean`, [c], () => tf.zeros([c]), false),
      movingVariance: this.param(`${at}.moving_variance`, [c], () => tf.ones([c]), false),
    });
    // SparK's LightDecoder.initialize: every Conv2d truncated normal std 0.02 (timm's cut at ±2
    // absolute, i.e. none at that std), only the transposed convs Kaiming normal fan-out; biases 0.
    // MMPreTrain's Kaiming on every conv gives the 1-channel output std sqrt(2) per input channel.
    const conv = (shape: number[]) => (rng: Random) =>
      truncatedNormal(rng, shape, DECODER_CONV_STD, TIMM_TRUNC_BOUND);
    const kaiming = (shape: number[]) => (rng: Random) =>
      kaimingNormalFanOut(
        rng,
        shape,
        (shape[0] as number) * (shape[1] as number) * (shape[3] as number),
      );
    this.blocks = Array.from({ length: UP_BLOCKS }, (_, k) => {
      const cIn = this.decoderWidth / 2 ** k;
      const cOut = cIn / 2;
      const at = `blocks.${k}`;
      return {
        // conv2dTranspose filters are [kh, kw, outChannels, inChannels]
        upKernel: this.param(`${at}.up.kernel`, [4, 4, cIn, cIn], kaiming([4, 4, cIn, cIn])),
        upBias: this.param(`${at}.up.bias`, [cIn], () => tf.zeros([cIn])),
        conv1: this.param(`${at}.conv1.kernel`, [3, 3, cIn, cIn], conv([3, 3, cIn, cIn])),
        bn1: bn(`${at}.bn1`, cIn),
        conv2: this.param(`${at}.conv2.kernel`, [3, 3, cIn, cOut], conv([3, 3, cIn, cOut])),
        bn2: bn(`${at}.bn2`, cOut),
      };
    });
    const last = this.decoderWidth / 2 ** UP_BLOCKS;
    this.headKernel = this.param(
      'head.kernel',
      [1, 1, last, this.outChannels],
      conv([1, 1, last, this.outChannels]),
    );
    this.headBias = this.param('head.bias', [this.outChannels], () => tf.zeros([this.outChannels]));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[] {
    const [batch, height, width] = (inputShape as number[][])[0] as number[];
    return [batch as number, (height as number) * 4, (width as number) * 4, this.outChannels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const all = inputs as tf.Tensor4D[];
    const active = all[4] as tf.Tensor4D;
    const training = Boolean(kwargs.training);
    return tf.tidy(() => {
      const coarseFirst = all.slice(0, 4).reverse();
      const toDecoder = coarseFirst.map((feature, i) => {
        const p = this.densify[i] as Densify;
        const m = maskAt(active, feature.shape[1]);
        const normed = tf.mul(layerNorm(feature, p.normGamma, p.normBeta), m);
        const filled = tf.add(normed, tf.mul(tf.sub(1, m), p.maskToken)) as tf.Tensor4D;
        if (!p.kernel || !p.bias) return filled;
        return tf.add(tf.conv2d(filled, p.kernel as tf.Tensor4D, 1, 'same'), p.bias) as tf.Tensor4D;
      });
      let x: tf.Tensor4D | undefined;
      this.blocks.forEach((block, k) => {
        const skip = toDecoder[k];
        const input = skip ? (x ? tf.add(x, skip) : skip) : (x as tf.Tensor4D);
        x = this.upBlock(input as tf.Tensor4D, block, training);
      });
      return tf.add(
        tf.conv2d(x as tf.Tensor4D, this.headKernel as tf.Tensor4D, 1, 'same'),
        this.headBias as tf.Tensor,
      );
    });
  }

  private upBlock(x: tf.Tensor4D, p: UpBlock, training: boolean): tf.Tensor4D {
    const [batch, h, w, c] = x.shape;
    let y = tf.add(
      tf.conv2dTranspose(x, p.upKernel as tf.Tensor4D, [batch, 2 * h, 2 * w, c], 2, 'same'),
      p.upBias,
    ) as tf.Tensor4D;
    y = this.norm(tf.conv2d(y, p.conv1 as tf.Tensor4D, 1, 'same'), p.bn1, training);
    y = tf.clipByValue(y, 0, 6); // ReLU6
    return this.norm(tf.conv2d(y, p.conv2 as tf.Tensor4D, 1, 'same'), p.bn2, training);
  }

  /** Batch norm with batch statistics in training (updating the running ones), running ones otherwise. */
  private norm(x: tf.Tensor4D, p: BatchNormParams, training: boolean): tf.Tensor4D {
    if (!training)
      return batchNorm(x, p.gamma, p.beta, { mean: p.movingMean, variance: p.movingVariance });
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const n = x.size / (x.shape[3] as number);
    const momentum = this.bnMomentum;
    // Running statistics are not part of the gradient: update them from detached values.
    tf.tidy(() => {
      const batchMean = tf.clone(mean);
      const unbiased = tf.mul(variance, n / Math.max(1, n - 1));
      p.movingMean.assign(tf.add(tf.mul(p.movingMean, 1 - momentum), tf.mul(batchMean, momentum)));
      p.movingVariance.assign(
        tf.add(tf.mul(p.movingVariance, 1 - momentum), tf.mul(unbiased, momentum)),
      );
    });
    return batchNorm(x, p.gamma, p.beta, { mean, variance });
  }

  override getConfig() {
    return {
      ...super.getConfig(),
      encoderWidths: this.encoderWidths,
      decoderWidth: this.decoderWidth,
      outChannels: this.outChannels,
      bnMomentum: this.bnMomentum,
    };
  }
}
tf.serialization.registerClass(SparKDecoder);
