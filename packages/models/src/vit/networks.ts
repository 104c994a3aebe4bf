import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { ClassifierHead } from '../convnext/classifier-head.js';
import { built, LayeredNetwork } from '../layered-network.js';
import { MaeDecoder } from './decoder.js';
import { ViTEncoder } from './encoder.js';
import { MultiLevelFusion, mffFusionLayers } from './fusion.js';
import { keptIds, type MaeMask, maeRandomMask, restoreIds } from './random-masking.js';
import { tokensToGrid } from './tokens.js';

/** The Sweep's `model.vit` (packages/api schema); defaults there are ViT-B/16 with MAE's decoder. */
export interface ViTConfig {
  patchSize: number;
  width: number;
  depth: number;
  heads: number;
  decoderWidth: number;
  decoderDepth: number;
  decoderHeads: number;
  /** MAE's fraction of removed tokens (0.75). */
  maskRatio: number;
}

/**
 * MFF for pre-training (docs/algorithms.md#mff): MAE's random masking, the ViT on the visible
 * tokens, the fusion of several blocks' outputs, the encoder's final norm, and MAE's decoder
 * predicting every patch's pixels. Weights: `encoder.*` (what fine-tuning loads),
 * `fusion.*`, `decoder.*`.
 */
export class MffNetwork extends LayeredNetwork {
  readonly encoder: ViTEncoder;
  readonly fusion: MultiLevelFusion;
  readonly decoder: MaeDecoder;
  /** The fused blocks (0-based), shallowest first. */
  readonly fusionLayers: number[];

  constructor(
    readonly config: ViTConfig & {
      imageSize: number;
      inChannels?: number;
      seed: number;
      /** @default mffFusionLayers(depth) */
      fusionLayers?: number[];
    },
  ) {
    super();
    const inChannels = config.inChannels ?? 1;
    this.fusionLayers = config.fusionLayers ?? mffFusionLayers(config.depth);
    const fused = this.fusionLayers;
    if (
      (fused[0] ?? -1) < 0 ||
      fused[fused.length - 1] !== config.depth - 1 ||
      fused.some((layer, i) => i > 0 && layer <= (fused[i - 1] as number))
    )
      throw new RangeError(
        `fusion layers [${fused}] must increase from 0 or more and end at the last block (${config.depth - 1})`,
      );
    this.encoder = built(new ViTEncoder({ ...config, inChannels, seed: config.seed }));
    this.decoder = built(
      new MaeDecoder({
        encoderWidth: config.width,
        width: config.decoderWidth,
        depth: config.decoderDepth,
        heads: config.decoderHeads,
        patchSize: config.patchSize,
        gridSize: this.encoder.gridSize,
        outChannels: inChannels,
        seed: config.seed + 1,
      }),
    );
    this.fusion = built(
      new MultiLevelFusion({
        width: config.width,
        levels: this.fusionLayers.length,
        seed: config.seed + 2,
      }),
    );
  }

  protected layers() {
    return { encoder: this.encoder, fusion: this.fusion, decoder: this.decoder };
  }

  /** Patch tokens per image (L = g²). */
  get patchCount(): number {
    return this.encoder.gridSize ** 2;
  }

  /** A fresh MAE mask for `batch` images at the configured ratio. */
  drawMask(batch: number, rng: Random): MaeMask {
    return maeRandomMask(batch, this.patchCount, this.config.maskRatio, rng);
  }

  /**
   * image [B, H, W, C] normalised -> predicted pixels [B, L, p·p·C] of every patch (the loss
   * reads the removed ones). Only `mask`'s visible tokens enter the encoder.
   */
  reconstruct(image: tf.Tensor4D, mask: MaeMask, training: boolean): tf.Tensor3D {
    return tf.tidy(() => {
      const levels = this.encoder.apply([image, keptIds(mask)], { training }) as tf.Tensor3D[];
      const fused = this.fusion.apply(
        this.fusionLayers.map((layer) => levels[layer] as tf.Tensor3D),
      );
      const latent = this.encoder.normalize(fused as tf.Tensor3D);
      return this.decoder.apply([latent, restoreIds(mask)], { training }) as tf.Tensor3D;
    });
  }

  /** softmax of the fusion logits, one weight per fused block: the trainer publishes them. */
  fusionWeights(): number[] {
    return this.fusion.fusionWeights();
  }
}

/**
 * The fine-tuning ViT (MMPreTrain's MFF benchmark config): the encoder without its final
 * norm, with learnable positions and stochastic depth; the patch tokens of the last block
 * (cls dropped) are averaged, LayerNorm-ed and classified by a linear layer. The head is the
 * ConvNeXt classifier's (mean over the grid, LN, linear), applied to the tokens' patch grid.
 */
export class ViTClassifier extends LayeredNetwork {
  readonly encoder: ViTEncoder;
  readonly head: ClassifierHead;

  constructor(
    readonly config: Pick<ViTConfig, 'patchSize' | 'width' | 'depth' | 'heads'> & {
      imageSize: number;
      numClasses: number;
      /** Stochastic depth of the last block. @default 0.1 (MMPreTrain's fine-tuning) */
      dropPath?: number;
      inChannels?: number;
      seed: number;
    },
  ) {
    super();
    this.encoder = built(
      new ViTEncoder({
        ...config,
        inChannels: config.inChannels ?? 1,
        dropPathRate: config.dropPath ?? 0.1,
        learnPositions: true,
        finalNorm: false,
        seed: config.seed,
      }),
    );
    this.head = built(
      new ClassifierHead({
        inChannels: config.width,
        numClasses: config.numClasses,
        seed: config.seed + 2,
      }),
    );
  }

  protected layers() {
    return { encoder: this.encoder, head: this.head };
  }

  /**
   * Every block's patch tokens on the patch grid, [B, g, g, D] each (cls dropped), as the
   * ConvNeXt classifier's stage outputs; the last feeds the head and is Grad-CAM's target.
   */
  features(image: tf.Tensor4D, training: boolean): tf.Tensor4D[] {
    return tf.tidy(() =>
      (this.encoder.apply(image, { training }) as tf.Tensor3D[]).map((tokens) =>
        tokensToGrid(tokens),
      ),
    );
  }

  logits(image: tf.Tensor4D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const levels = this.encoder.apply(image, { training }) as tf.Tensor3D[];
      return this.classify(tokensToGrid(levels[levels.length - 1] as tf.Tensor3D));
    });
  }

  /** The head on the last block's patch grid (Grad-CAM differentiates through this). */
  classify(lastGrid: tf.Tensor4D): tf.Tensor2D {
    return this.head.apply(lastGrid) as tf.Tensor2D;
  }
}
