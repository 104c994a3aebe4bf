import * as tf from '@tensorflow/tfjs-core';
import { truncatedNormal } from '../convnext/init.js';
import { dense, layerNorm } from '../convnext/ops.js';
import { ParamLayer, type ParamLayerArgs } from '../convnext/param-layer.js';
import { sincosPositionEmbedding } from './init.js';
import { gatherTokens, repeatOverBatch } from './tokens.js';
import {
  linearWeights,
  normWeights,
  type TransformerBlock,
  transformerBlock,
  transformerBlockWeights,
} from './transformer.js';

export interface MaeDecoderArgs extends ParamLayerArgs {
  /** The encoder's token width. */
  encoderWidth: number;
  /** Decoder width (512 in MAE), divisible by 4 and by `heads`. */
  width: number;
  depth: number;
  heads: number;
  patchSize: number;
  /** The patch grid's side g: the decoder predicts g² patches. */
  gridSize: number;
  /** Channels of the predicted pixels (1 for CT). */
  outChannels?: number;
  /** @default 4 */
  mlpRatio?: number;
}

const MASK_TOKEN_STD = 0.02;

/**
 * MAE's decoder (MMPreTrain MAEPretrainDecoder, docs/algorithms.md#mae-decoder-and-loss): a Linear
 * from the encoder width, a learned mask token in every removed position (un-shuffled with
 * ids_restore), fixed sin-cos positions, transformer blocks, LayerNorm and a Linear to the p·p·C
 * pixels of each patch. Inputs: [encoded tokens [B, 1 + K, D] (cls first), ids_restore [B, L]
 * int32]. Output: per-patch pixels [B, L, p·p·C], patches row-major, each flattened over (row,
 * column, channel) as `patchify` cuts them; the cls position is dropped.
 */
export class MaeDecoder extends ParamLayer {
  static readonly className = 'MasksweepMaeDecoder';
  readonly encoderWidth: number;
  readonly width: number;
  readonly depth: number;
  readonly heads: number;
  readonly patchSize: number;
  readonly gridSize: number;
  readonly outChannels: number;
  readonly mlpRatio: number;
  private embed?: { kernel: tf.Variable; bias: tf.Variable };
  private maskToken?: tf.Variable;
  private positions?: tf.Variable;
  private blocks: TransformerBlock[] = [];
  private norm?: { gamma: tf.Variable; beta: tf.Variable };
  private prediction?: { kernel: tf.Variable; bias: tf.Variable };

  constructor(args: MaeDecoderArgs) {
    super(args);
    if (args.width % args.heads !== 0)
      throw new RangeError(`decoder width ${args.width} is not divisible by ${args.heads} heads`);
    this.encoderWidth = args.encoderWidth;
    this.width = args.width;
    this.depth = args.depth;
    this.heads = args.heads;
    this.patchSize = args.patchSize;
    this.gridSize = args.gridSize;
    this.outChannels = args.outChannels ?? 1;
    this.mlpRatio = args.mlpRatio ?? 4;
  }

  override build(_inputShape?: unknown): void {
    const param = this.param.bind(this);
    const d = this.width;
    this.embed = linearWeights(param, 'embed', this.encoderWidth, d);
    this.maskToken = this.param('mask_token', [1, 1, d], (rng) =>
      truncatedNormal(rng, [1, 1, d], MASK_TOKEN_STD, Number.POSITIVE_INFINITY),
    );
    this.positions = this.param(
      'pos_embed',
      [1, 1 + this.gridSize ** 2, d],
      () => sincosPositionEmbedding(d, this.gridSize),
      false,
    );
    this.blocks = Array.from({ length: this.depth }, (_, i) =>
      transformerBlockWeights(param, `blocks.${i}`, d, this.mlpRatio),
    );
    this.norm = normWeights(param, 'norm', d);
    this.prediction = linearWeights(param, 'pred', d, this.patchSize ** 2 * this.outChannels);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[] {
    const [latent] = inputShape as number[][];
    return [
      (latent as number[])[0] as number,
      this.gridSize ** 2,
      this.patchSize ** 2 * this.outChannels,
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [latent, idsRestore] = inputs as [tf.Tensor3D, tf.Tensor2D];
    const [batch, encoded] = latent.shape;
    const length = this.gridSize ** 2;
    const d = this.width;
    const embed = this.embed as { kernel: tf.Variable; bias: tf.Variable };
    const prediction = this.prediction as { kernel: tf.Variable; bias: tf.Variable };
    const norm = this.norm as { gamma: tf.Variable; beta: tf.Variable };
    return tf.tidy(() => {
      const x = dense(latent, embed.kernel as tf.Tensor2D, embed.bias) as tf.Tensor3D;
      const visible = tf.slice(x, [0, 1, 0], [batch, encoded - 1, d]);
      // [visible..., mask tokens...] is the shuffled order; ids_restore puts each token back.
      const shuffled = tf.concat(
        [visible, repeatOverBatch(this.maskToken as tf.Tensor, batch, length - (encoded - 1))],
        1,
      ) as tf.Tensor3D;
      const cls = tf.slice(x, [0, 0, 0], [batch, 1, d]);
      let tokens = tf.add(
        tf.concat([cls, gatherTokens(shuffled, idsRestore)], 1),
        this.positions as tf.Tensor,
      ) as tf.Tensor3D;
      for (const block of this.blocks) tokens = transformerBlock(tokens, block, this.heads);
      const pixels = dense(
        layerNorm(tokens, norm.gamma, norm.beta),
        prediction.kernel as tf.Tensor2D,
        prediction.bias,
      );
      return tf.slice(pixels, [0, 1, 0], [batch, length, this.patchSize ** 2 * this.outChannels]);
    });
  }

  override getConfig() {
    return {
      ...super.getConfig(),
      encoderWidth: this.encoderWidth,
      width: this.width,
      depth: this.depth,
      heads: this.heads,
      patchSize: this.patchSize,
      gridSize: this.gridSize,
      outChannels: this.outChannels,
      mlpRatio: this.mlpRatio,
    };
  }
}
tf.serialization.registerClass(MaeDecoder);
