import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types.js';
import { truncatedNormal } from './init.js';
import { dense, dropPath, gelu, layerNorm, maskAt } from './ops.js';
import { ParamLayer, type ParamLayerArgs } from './param-layer.js';

export interface ConvNeXtEncoderArgs extends ParamLayerArgs {
  /** Blocks per stage, e.g. [3, 3, 27, 3] for ConvNeXt-S. */
  depths: number[];
  /** Channels per stage, e.g. [96, 192, 384, 768]. */
  widths: number[];
  /** Image channels (1 for CT). */
  inChannels?: number;
  /**
   * SparK's sparse encoder: every conv output, norm and block output is re-multiplied by
   * the active map at its scale, so masked positions stay exactly 0
   * (docs/algorithms.md#spark-sparse-encoder). false is the dense ConvNeXt of the paper's Table 9
   * ablation and of fine-tuning.
   */
  sparse: boolean;
  /** Stochastic depth, linearly spaced from 0 over all blocks. */
  dropPathRate?: number;
  layerScaleInit?: number;
}

const CONV_STD = 0.02;
const trunc = (shape: number[]) => (rng: Random) => truncatedNormal(rng, shape, CONV_STD);
const zeros = (shape: number[]) => () => tf.zeros(shape);
const ones = (shape: number[]) => () => tf.ones(shape);

interface Block {
  dwKernel: tf.Variable;
  dwBias: tf.Variable;
  normGamma: tf.Variable;
  normBeta: tf.Variable;
  pw1Kernel: tf.Variable;
  pw1Bias: tf.Variable;
  pw2Kernel: tf.Variable;
  pw2Bias: tf.Variable;
  layerScale: tf.Variable;
  dropRate: number;
}

interface Downsample {
  normGamma: tf.Variable;
  normBeta: tf.Variable;
  kernel: tf.Variable;
  bias: tf.Variable;
}

/**
 * The ConvNeXt (v1) encoder of SparK, sparse or dense. Inputs: [image [B,H,W,C], active
 * map [B,H/32,W/32,1]]. Outputs: the four stage outputs (strides 4, 8, 16, 32).
 * In the sparse variant the image must already be zero at masked pixels (SparK does it).
 */
export class ConvNeXtEncoder extends ParamLayer {
  static readonly className = 'MasksweepConvNeXtEncoder';
  readonly depths: number[];
  readonly widths: number[];
  readonly inChannels: number;
  readonly sparse: boolean;
  readonly dropPathRate: number;
  readonly layerScaleInit: number;
  private downsamples: Downsample[] = [];
  private stages: Block[][] = [];
  private dropRng: Random;

  constructor(args: ConvNeXtEncoderArgs) {
    super(args);
    if (args.depths.length !== 4 || args.widths.length !== 4) {
      throw new RangeError(
        `depths and widths need 4 stages, got [${args.depths}] and [${args.widths}]`,
      );
    }
    this.depths = args.depths;
    this.widths = args.widths;
    this.inChannels = args.inChannels ?? 1;
    this.sparse = args.sparse;
    this.dropPathRate = args.dropPathRate ?? 0;
    this.layerScaleInit = args.layerScaleInit ?? 1e-6;
    this.dropRng = new Random(this.seed).fork('drop-path');
  }

  /** Restarts the drop-path draws, so a run resumed at an epoch draws what it drew before. */
  reseedDropPath(seed: number): void {
    this.dropRng = new Random(seed);
  }

  override build(_inputShape?: unknown): void {
    const [w0] = this.widths as [number];
    // downsamples[0] is the stem: conv 4x4/4 then LN; the others LN then conv 2x2/2.
    this.downsamples = this.widths.map((width, i) => {
      const inWidth = i === 0 ? this.inChannels : (this.widths[i - 1] as number);
      const k = i === 0 ? 4 : 2;
      const normWidth = i === 0 ? w0 : inWidth;
      return {
        kernel: this.param(
          `downsample.${i}.kernel`,
          [k, k, inWidth, width],
          trunc([k, k, inWidth, width]),
        ),
        bias: this.param(`downsample.${i}.bias`, [width], zeros([width])),
        normGamma: this.param(`downsample.${i}.norm.gamma`, [normWidth], ones([normWidth])),
        normBeta: this.param(`downsample.${i}.norm.beta`, [normWidth], zeros([normWidth])),
      };
    });
    const totalBlocks = this.depths.reduce((a, b) => a + b, 0);
    let blockIndex = 0;
    this.stages = this.depths.map((depth, s) => {
      const c = this.widths[s] as number;
      return Array.from({ length: depth }, (_, b) => {
        const at = `stages.${s}.${b}`;
        const dropRate =
          totalBlocks > 1 ? (this.dropPathRate * blockIndex++) / (totalBlocks - 1) : 0;
        return {
          dwKernel: this.param(`${at}.dw.kernel`, [7, 7, c, 1], trunc([7, 7, c, 1])),
          dwBias: this.param(`${at}.dw.bias`, [c], zeros([c])),
          normGamma: this.param(`${at}.norm.gamma`, [c], ones([c])),
          normBeta: this.param(`${at}.norm.beta`, [c], zeros([c])),
          pw1Kernel: this.param(`${at}.pw1.kernel`, [c, 4 * c], trunc([c, 4 * c])),
          pw1Bias: this.param(`${at}.pw1.bias`, [4 * c], zeros([4 * c])),
          pw2Kernel: this.param(`${at}.pw2.kernel`, [4 * c, c], trunc([4 * c, c])),
          pw2Bias: this.param(`${at}.pw2.bias`, [c], zeros([c])),
          layerScale: this.param(`${at}.gamma`, [c], () => tf.fill([c], this.layerScaleInit)),
          dropRate,
        };
      });
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[][] {
    const [batch, height, width] = (inputShape as number[][])[0] as number[];
    return this.widths.map((c, i) => [
      batch as number,
      (height as number) / 2 ** (i + 2),
      (width as number) / 2 ** (i + 2),
      c,
    ]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    const [image, active] = inputs as [tf.Tensor4D, tf.Tensor4D];
    const training = Boolean(kwargs.training);
    return tf.tidy(() => {
      const masks = new Map<number, tf.Tensor4D>();
      const sparsify = (x: tf.Tensor): tf.Tensor => {
        if (!this.sparse) return x;
        const size = x.shape[1] as number;
        if (!masks.has(size)) masks.set(size, maskAt(active, size));
        return tf.mul(x, masks.get(size) as tf.Tensor4D);
      };
      const outputs: tf.Tensor[] = [];
      let x: tf.Tensor = image;
      this.downsamples.forEach((down, i) => {
        const conv = (t: tf.Tensor) =>
          sparsify(
            tf.add(
              tf.conv2d(t as tf.Tensor4D, down.kernel as tf.Tensor4D, i === 0 ? 4 : 2, 'valid'),
              down.bias,
            ),
          );
        const norm = (t: tf.Tensor) => sparsify(layerNorm(t, down.normGamma, down.normBeta));
        x = i === 0 ? norm(conv(x)) : conv(norm(x));
        for (const block of this.stages[i] as Block[]) x = this.block(x, block, sparsify, training);
        outputs.push(x);
      });
      return outputs;
    });
  }

  private block(
    x: tf.Tensor,
    p: Block,
    sparsify: (t: tf.Tensor) => tf.Tensor,
    training: boolean,
  ): tf.Tensor {
    let y = sparsify(
      tf.add(tf.depthwiseConv2d(x as tf.Tensor4D, p.dwKernel as tf.Tensor4D, 1, 'same'), p.dwBias),
    );
    y = layerNorm(y, p.normGamma, p.normBeta);
    y = gelu(dense(y, p.pw1Kernel as tf.Tensor2D, p.pw1Bias));
    y = dense(y, p.pw2Kernel as tf.Tensor2D, p.pw2Bias);
    // The block-end mask: the point-wise layers' biases made masked positions non-zero.
    y = sparsify(tf.mul(y, p.layerScale));
    if (training && p.dropRate > 0) {
      const keep = Array.from({ length: x.shape[0] as number }, () =>
        this.dropRng.bernoulli(1 - p.dropRate) ? 1 : 0,
      );
      y = dropPath(y, keep, p.dropRate);
    }
    return tf.add(x, y);
  }

  override getConfig() {
    return {
      ...super.getConfig(),
      depths: this.depths,
      widths: this.widths,
      inChannels: this.inChannels,
      sparse: this.sparse,
      dropPathRate: this.dropPathRate,
      layerScaleInit: this.layerScaleInit,
    };
  }
}
tf.serialization.registerClass(ConvNeXtEncoder);
