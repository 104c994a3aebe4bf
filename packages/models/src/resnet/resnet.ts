import * as tf from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types.js';
import { kaimingNormalFanOut } from '../convnext/init.js';
import {
  BatchNormLayer,
  type BatchNormLayerArgs,
  type BatchNormParams,
} from './batch-norm-layer.js';

export type ResNetDepth = 18 | 50;
export type ResidualBlockType = 'basic' | 'bottleneck';

/** MMPreTrain's `arch_settings`: the block type and the blocks per stage of each depth. */
export const RESNET_LAYOUTS: Readonly<
  Record<ResNetDepth, { block: ResidualBlockType; depths: readonly number[] }>
> = {
  18: { block: 'basic', depths: [2, 2, 2, 2] },
  50: { block: 'bottleneck', depths: [3, 4, 6, 3] },
};

/** Output channels of a block per channel of its middle convolutions. */
export const BLOCK_EXPANSION: Readonly<Record<ResidualBlockType, number>> = {
  basic: 1,
  bottleneck: 4,
};

/** ResNet's standard stage widths (MMPreTrain `base_channels` 64, doubling per stage). */
export const RESNET_WIDTHS: readonly number[] = [64, 128, 256, 512];

export interface ResNetArgs extends BatchNormLayerArgs {
  depth: ResNetDepth;
  /**
   * Middle channels of each stage's blocks; a stage outputs width x expansion (x4 for the
   * bottleneck). The stem has widths[0] channels.
   * @default RESNET_WIDTHS
   */
  widths?: readonly number[];
  /** Image channels (1 for CT). @default 1 */
  inChannels?: number;
  /**
   * Start the last batch norm of every residual block at gamma 0, so each block begins as
   * the identity (MMPreTrain's default, and SimCLR's `zero_init_residual=True`).
   * @default true
   */
  zeroInitResidual?: boolean;
}

/** A convolution without bias followed by a batch norm. */
interface ConvBn {
  kernel: tf.Variable;
  stride: number;
  bn: BatchNormParams;
}

interface ResidualBlock {
  /** conv1..convK of the branch; a ReLU follows each batch norm but the last. */
  branch: ConvBn[];
  /** The projection shortcut (1x1 conv + BN) when the shape changes; the identity otherwise. */
  downsample?: ConvBn;
}

/**
 * ResNet v1 (MMPreTrain `ResNet`, PyTorch style: the stride sits in the 3x3 convolution).
 * Stem: 7x7/2 conv, BN, ReLU, 3x3/2 max pool; then four stages of BasicBlocks (18) or
 * Bottlenecks (50), strides 1, 2, 2, 2. Paddings are PyTorch's symmetric ones, so every
 * stride-2 step gives ceil(size / 2). Input [B, H, W, C]; outputs the four stage maps
 * (strides 4, 8, 16, 32). Weight names follow MMPreTrain's (`layer2.0.downsample.1.gamma`),
 * which is what LARS's exclusions match.
 */
export class ResNet extends BatchNormLayer {
  static readonly className = 'MasksweepResNet';
  readonly depth: ResNetDepth;
  readonly widths: readonly number[];
  readonly inChannels: number;
  readonly zeroInitResidual: boolean;
  readonly blockType: ResidualBlockType;
  private stem?: ConvBn;
  private stages: ResidualBlock[][] = [];

  constructor(args: ResNetArgs) {
    super(args);
    const layout = RESNET_LAYOUTS[args.depth];
    if (!layout) {
      throw new RangeError(
        `ResNet depth must be one of ${Object.keys(RESNET_LAYOUTS).join(', ')}, got ${args.depth}`,
      );
    }
    const widths = args.widths ?? RESNET_WIDTHS;
    if (widths.length !== 4 || !widths.every((w) => Number.isInteger(w) && w > 0)) {
      throw new RangeError(`ResNet widths must be 4 positive integers, got [${widths}]`);
    }
    const inChannels = args.inChannels ?? 1;
    if (!Number.isInteger(inChannels) || inChannels < 1) {
      throw new RangeError(`ResNet inChannels must be a positive integer, got ${inChannels}`);
    }
    this.depth = args.depth;
    this.widths = [...widths];
    this.inChannels = inChannels;
    this.zeroInitResidual = args.zeroInitResidual ?? true;
    this.blockType = layout.block;
  }

  /** Channels of the last stage's output: the feature dimension after pooling. */
  get featureChannels(): number {
    return (this.widths[3] as number) * BLOCK_EXPANSION[this.blockType];
  }

  override build(_inputShape?: unknown): void {
    const stemWidth = this.widths[0] as number;
    this.stem = this.convBn('conv1', 'bn1', 7, this.inChannels, stemWidth, 2);
    const expansion = BLOCK_EXPANSION[this.blockType];
    let inWidth = stemWidth;
    this.stages = RESNET_LAYOUTS[this.depth].depths.map((blocks, s) => {
      const width = this.widths[s] as number;
      const outWidth = width * expansion;
      return Array.from({ length: blocks }, (_, b) => {
        const at = `layer${s + 1}.${b}`;
        const stride = b === 0 && s > 0 ? 2 : 1;
        // conv<k> and bn<k> of the branch; the last BN may start at gamma 0.
        const conv = (k: number, size: number, from: number, to: number, convStride: number) =>
          this.convBn(`${at}.conv${k}`, `${at}.bn${k}`, size, from, to, convStride);
        const last = (k: number, size: number, from: number, to: number) =>
          this.convBn(`${at}.conv${k}`, `${at}.bn${k}`, size, from, to, 1, this.residualGamma);
        const block: ResidualBlock = {
          branch:
            this.blockType === 'basic'
              ? [conv(1, 3, inWidth, width, stride), last(2, 3, width, width)]
              : [
                  conv(1, 1, inWidth, width, 1),
                  conv(2, 3, width, width, stride),
                  last(3, 1, width, outWidth),
                ],
        };
        if (stride !== 1 || inWidth !== outWidth) {
          block.downsample = this.convBn(
            `${at}.downsample.0`,
            `${at}.downsample.1`,
            1,
            inWidth,
            outWidth,
            stride,
          );
        }
        inWidth = outWidth;
        return block;
      });
    });
    this.built = true;
  }

  private get residualGamma(): number {
    return this.zeroInitResidual ? 0 : 1;
  }

  /** MMPreTrain's ResNet init: Kaiming normal, fan-out, for the convolutions. */
  private convBn(
    convName: string,
    bnName: string,
    size: number,
    inWidth: number,
    outWidth: number,
    stride: number,
    gammaInit = 1,
  ): ConvBn {
    const shape = [size, size, inWidth, outWidth];
    return {
      kernel: this.param(`${convName}.kernel`, shape, (rng) =>
        kaimingNormalFanOut(rng, shape, size * size * outWidth),
      ),
      stride,
      bn: this.batchNormParams(bnName, outWidth, gammaInit),
    };
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[][] {
    // One input, given alone or as a one-element list.
    const shape = inputShape as number[] | number[][];
    const [batch, height, width] = (Array.isArray(shape[0]) ? shape[0] : shape) as number[];
    const expansion = BLOCK_EXPANSION[this.blockType];
    return this.widths.map((w, i) => [
      batch as number,
      Math.ceil((height as number) / 2 ** (i + 2)),
      Math.ceil((width as number) / 2 ** (i + 2)),
      w * expansion,
    ]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    const image = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    if (image.rank !== 4 || image.shape[3] !== this.inChannels) {
      throw new RangeError(
        `ResNet expects [B, H, W, ${this.inChannels}] images, got [${image.shape}]`,
      );
    }
    const training = Boolean(kwargs.training);
    return tf.tidy(() => {
      const stem = tf.relu(this.applyConvBn(image, this.stem as ConvBn, training)) as tf.Tensor4D;
      let x = tf.maxPool(stem, 3, 2, 1);
      const outputs: tf.Tensor4D[] = [];
      for (const stage of this.stages) {
        for (const block of stage) x = this.residualBlock(x, block, training);
        outputs.push(x);
      }
      return outputs;
    });
  }

  private residualBlock(x: tf.Tensor4D, block: ResidualBlock, training: boolean): tf.Tensor4D {
    let y = x;
    block.branch.forEach((conv, k) => {
      y = this.applyConvBn(y, conv, training);
      if (k < block.branch.length - 1) y = tf.relu(y);
    });
    const shortcut = block.downsample ? this.applyConvBn(x, block.downsample, training) : x;
    return tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
  }

  private applyConvBn(x: tf.Tensor4D, p: ConvBn, training: boolean): tf.Tensor4D {
    const size = p.kernel.shape[0] as number;
    // PyTorch pads k // 2 on every side (a number here), where 'same' would pad stride-2
    // convolutions asymmetrically and shift the sampling grid by one pixel.
    const convolved = tf.conv2d(x, p.kernel as tf.Tensor4D, p.stride, (size - 1) / 2);
    return this.batchNorm(convolved, p.bn, training);
  }

  override getConfig() {
    return {
      ...super.getConfig(),
      depth: this.depth,
      widths: [...this.widths],
      inChannels: this.inChannels,
      zeroInitResidual: this.zeroInitResidual,
    };
  }
}
tf.serialization.registerClass(ResNet);
