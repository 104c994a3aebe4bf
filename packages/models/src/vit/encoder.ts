import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types.js';
import { pytorchDefaultUniform, truncatedNormal } from '../convnext/init.js';
import { layerNorm } from '../convnext/ops.js';
import { ParamLayer, type ParamLayerArgs } from '../convnext/param-layer.js';
import { sincosPositionEmbedding, xavierUniform } from './init.js';
import { gatherTokens, repeatOverBatch } from './tokens.js';
import {
  normWeights,
  type TransformerBlock,
  transformerBlock,
  transformerBlockWeights,
} from './transformer.js';

export interface ViTEncoderArgs extends ParamLayerArgs {
  /** Input height and width in pixels, a multiple of the patch size. */
  imageSize: number;
  patchSize: number;
  /** Token width D (768 for ViT-B), divisible by 4 (sin-cos positions) and by `heads`. */
  width: number;
  depth: number;
  heads: number;
  /** Image channels (1 for CT). */
  inChannels?: number;
  /** MLP hidden width as a multiple of D. @default 4 */
  mlpRatio?: number;
  /** Stochastic depth, linearly spaced from 0 over the blocks. @default 0 */
  dropPathRate?: number;
  /**
   * Whether the position embedding is trained. MAE pre-training keeps the sin-cos values
   * fixed; MMPreTrain's fine-tuning ViT learns them from there. @default false
   */
  learnPositions?: boolean;
  /**
   * Whether the encoder has its final LayerNorm. MAE and MFF apply it (MFF after the
   * fusion); MMPreTrain's MFF fine-tuning has none (`final_norm=False`, it norms after
   * pooling). @default true
   */
  finalNorm?: boolean;
}

const TOKEN_STD = 0.02;

/**
 * The ViT encoder of MAE / MFF (docs/algorithms.md#mff-encoder-and-fusion): a patch embedding (conv
 * with kernel = stride = patch), fixed 2-D sin-cos positions, a cls token and pre-norm transformer
 * blocks. Inputs: the image [B, H, W, C], or [image, ids of the visible tokens [B, K] int32] to
 * encode the visible tokens only (MAE). Outputs: every block's output [B, 1 + K, D], cls token
 * first, before the final norm (`normalize`), so MFF can fuse several levels.
 */
export class ViTEncoder extends ParamLayer {
  static readonly className = 'MasksweepViTEncoder';
  readonly imageSize: number;
  readonly patchSize: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly inChannels: number;
  readonly mlpRatio: number;
  readonly dropPathRate: number;
  readonly learnPositions: boolean;
  readonly finalNorm: boolean;
  private patchKernel?: tf.Variable;
  private patchBias?: tf.Variable;
  private clsToken?: tf.Variable;
  private positions?: tf.Variable;
  private blocks: TransformerBlock[] = [];
  private norm?: { gamma: tf.Variable; beta: tf.Variable };
  private dropRng: Random;

  constructor(args: ViTEncoderArgs) {
    super(args);
    if (args.imageSize % args.patchSize !== 0)
      throw new RangeError(
        `image size ${args.imageSize} is not a multiple of the patch size ${args.patchSize}`,
      );
    if (args.width % args.heads !== 0)
      throw new RangeError(`width ${args.width} is not divisible by ${args.heads} heads`);
    this.imageSize = args.imageSize;
    this.patchSize = args.patchSize;
    this.width = args.width;
    this.depth = args.depth;
    this.heads = args.heads;
    this.inChannels = args.inChannels ?? 1;
    this.mlpRatio = args.mlpRatio ?? 4;
    this.dropPathRate = args.dropPathRate ?? 0;
    this.learnPositions = args.learnPositions ?? false;
    this.finalNorm = args.finalNorm ?? true;
    this.dropRng = new Random(this.seed).fork('drop-path');
  }

  /** The patch grid's side g (L = g² patch tokens). */
  get gridSize(): number {
    return this.imageSize / this.patchSize;
  }

  /** Restarts the drop-path draws, so a run resumed at an epoch draws what it drew before. */
  reseedDropPath(seed: number): void {
    this.dropRng = new Random(seed);
  }

  override build(_inputShape?: unknown): void {
    const { patchSize: p, inChannels: c, width: d } = this;
    const param = this.param.bind(this);
    // MAE: Xavier-uniform on the kernel's [D, p·p·C] view; the bias keeps PyTorch's default.
    this.patchKernel = this.param('patch_embed.kernel', [p, p, c, d], (rng) =>
      xavierUniform(rng, [p, p, c, d], p * p * c, d),
    );
    this.patchBias = this.param('patch_embed.bias', [d], (rng) =>
      pytorchDefaultUniform(rng, [d], p * p * c),
    );
    this.clsToken = this.param('cls_token', [1, 1, d], (rng) =>
      truncatedNormal(rng, [1, 1, d], TOKEN_STD, Number.POSITIVE_INFINITY),
    );
    const tokens = 1 + this.gridSize ** 2;
    this.positions = this.param(
      'pos_embed',
      [1, tokens, d],
      () => sincosPositionEmbedding(d, this.gridSize),
      this.learnPositions,
    );
    this.blocks = Array.from({ length: this.depth }, (_, i) =>
      transformerBlockWeights(param, `layers.${i}`, d, this.mlpRatio),
    );
    if (this.finalNorm) this.norm = normWeights(param, 'norm', d);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[][] {
    const shapes = inputShape as number[][] | number[];
    const image = (Array.isArray(shapes[0]) ? shapes[0] : shapes) as number[];
    const ids = Array.isArray(shapes[0]) ? (shapes[1] as number[] | undefined) : undefined;
    const tokens = 1 + (ids ? (ids[1] as number) : this.gridSize ** 2);
    return Array.from({ length: this.depth }, () => [image[0] as number, tokens, this.width]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    const [image, visibleIds] = (Array.isArray(inputs) ? inputs : [inputs]) as [
      tf.Tensor4D,
      tf.Tensor2D | undefined,
    ];
    const training = Boolean(kwargs.training);
    const batch = image.shape[0];
    const length = this.gridSize ** 2;
    return tf.tidy(() => {
      const positions = this.positions as tf.Tensor;
      const embedded = tf.add(
        tf.conv2d(image, this.patchKernel as tf.Tensor4D, this.patchSize, 'valid'),
        this.patchBias as tf.Tensor,
      );
      let tokens = tf.add(
        tf.reshape(embedded, [batch, length, this.width]),
        tf.slice(positions, [0, 1, 0], [1, length, this.width]),
      ) as tf.Tensor3D;
      if (visibleIds) tokens = gatherTokens(tokens, visibleIds);
      const cls = repeatOverBatch(
        tf.add(this.clsToken as tf.Tensor, tf.slice(positions, [0, 0, 0], [1, 1, this.width])),
        batch,
      );
      let x = tf.concat([cls, tokens], 1) as tf.Tensor3D;
      const outputs: tf.Tensor3D[] = [];
      this.blocks.forEach((block, i) => {
        x = transformerBlock(x, block, this.heads, this.dropDraw(i, batch, training));
        outputs.push(x);
      });
      return outputs;
    });
  }

  /** The final LayerNorm (eps 1e-6) on tokens [B, N, D]. */
  normalize(tokens: tf.Tensor3D): tf.Tensor3D {
    if (!this.norm) throw new Error('this ViT encoder was built without its final norm');
    return layerNorm(tokens, this.norm.gamma, this.norm.beta) as tf.Tensor3D;
  }

  /** Block i's per-image keep draws, when stochastic depth applies (training, rate > 0). */
  private dropDraw(i: number, batch: number, training: boolean) {
    const rate = this.depth > 1 ? (this.dropPathRate * i) / (this.depth - 1) : 0;
    if (!training || rate === 0) return undefined;
    const keep = Array.from({ length: batch }, () => (this.dropRng.bernoulli(1 - rate) ? 1 : 0));
    return { keep, rate };
  }

  override getConfig() {
    return {
      ...super.getConfig(),
      imageSize: this.imageSize,
      patchSize: this.patchSize,
      width: this.width,
      depth: this.depth,
      heads: this.heads,
      inChannels: this.inChannels,
      mlpRatio: this.mlpRatio,
      dropPathRate: this.dropPathRate,
      learnPositions: this.learnPositions,
      finalNorm: this.finalNorm,
    };
  }
}
tf.serialization.registerClass(ViTEncoder);
