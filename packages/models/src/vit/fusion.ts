import * as tf from '@tensorflow/tfjs-core';
import { dense } from '../convnext/ops.js';
import { ParamLayer, type ParamLayerArgs } from '../convnext/param-layer.js';
import { linearWeights } from './transformer.js';

/** MFF's fused layers of ViT-B/16 (0-based): MMPreTrain's MFF config `out_indices`. */
export const MFF_LAYERS_VIT_B = [0, 2, 4, 6, 8, 11] as const;

/**
 * The blocks whose outputs MFF fuses, for a ViT of `depth` blocks. From 12 blocks on:
 * 0, 2, 4, 6, 8 and the last, as MMPreTrain's config (the last being 11 for ViT-B).
 * Shallower (test and small-image) ViTs: min(6, depth) blocks evenly spaced from the first
 * to the last, rounded (depth 6: every block; depth 4: 0, 1, 2, 3; depth 1: block 0 alone,
 * whose weight then stays fixed as in MMPreTrain). The last block is always fused.
 */
export function mffFusionLayers(depth: number): number[] {
  if (!Number.isInteger(depth) || depth < 1)
    throw new RangeError(`depth must be a positive integer, got ${depth}`);
  if (depth >= 12) return [...MFF_LAYERS_VIT_B.slice(0, -1), depth - 1];
  const count = Math.min(MFF_LAYERS_VIT_B.length, depth);
  if (count === 1) return [0];
  return Array.from({ length: count }, (_, k) => Math.round((k * (depth - 1)) / (count - 1)));
}

export interface MultiLevelFusionArgs extends ParamLayerArgs {
  /** Token width D. */
  width: number;
  /** How many levels are fused (the last one is used as is). */
  levels: number;
}

/**
 * MFF's multi-level feature fusion (MMPreTrain MFFViT): every level but the last goes
 * through its own Linear D -> D; the levels are summed with weights softmax(w), w a
 * learnable vector initialised to ones (fixed when there is one level). Inputs: the levels'
 * token tensors [B, N, D], shallowest first. Output: the fused [B, N, D], before the
 * encoder's final norm.
 */
export class MultiLevelFusion extends ParamLayer {
  static readonly className = 'MasksweepMultiLevelFusion';
  readonly width: number;
  readonly levels: number;
  private projections: Array<{ kernel: tf.Variable; bias: tf.Variable }> = [];
  private logits?: tf.Variable;

  constructor(args: MultiLevelFusionArgs) {
    super(args);
    if (!Number.isInteger(args.levels) || args.levels < 1)
      throw new RangeError(`fusion needs at least one level, got ${args.levels}`);
    this.width = args.width;
    this.levels = args.levels;
  }

  override build(_inputShape?: unknown): void {
    const param = this.param.bind(this);
    this.projections = Array.from({ length: this.levels - 1 }, (_, k) =>
      linearWeights(param, `proj.${k}`, this.width, this.width),
    );
    // [K, 1] like MMPreTrain's (K, 1, 1, 1): no config key exempts it, so it takes weight decay.
    this.logits = this.param(
      'weights',
      [this.levels, 1],
      () => tf.ones([this.levels, 1]),
      this.levels > 1,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.serialization.ConfigDictValue): number[] {
    return (inputShape as number[][])[0] as number[];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const features = (Array.isArray(inputs) ? inputs : [inputs]) as tf.Tensor3D[];
    if (features.length !== this.levels)
      throw new RangeError(`fusion of ${this.levels} levels got ${features.length}`);
    return tf.tidy(() => {
      const weights = tf.unstack(this.weightsTensor());
      const terms = features.map((feature, k) => {
        const projection = this.projections[k];
        const projected = projection
          ? dense(feature, projection.kernel as tf.Tensor2D, projection.bias)
          : feature;
        return tf.mul(projected, weights[k] as tf.Scalar);
      });
      return tf.addN(terms);
    });
  }

  /** The current fusion weights softmax(w), shallowest level first: the values to publish. */
  fusionWeights(): number[] {
    const weights = this.weightsTensor();
    const values = Array.from(weights.dataSync());
    weights.dispose();
    return values;
  }

  private weightsTensor(): tf.Tensor1D {
    return tf.tidy(() => tf.softmax(tf.reshape(this.logits as tf.Tensor, [this.levels])));
  }

  override getConfig() {
    return { ...super.getConfig(), width: this.width, levels: this.levels };
  }
}
tf.serialization.registerClass(MultiLevelFusion);
