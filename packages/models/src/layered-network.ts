import * as tf from '@tensorflow/tfjs-core';
import { assignByName } from './checkpoint.js';
import type { ParamLayer } from './convnext/param-layer.js';

/**
 * A network made of named layers, one of them its `encoder`: its weights are
 * `<layer>.<weight>` (checkpoint keys), so `encoder.*` names the same weights in the
 * pre-training network and in the classifier that fine-tunes them. The ConvNeXt, ResNet
 * and ViT networks all share this contract.
 */
export abstract class LayeredNetwork {
  protected abstract layers(): Record<string, ParamLayer>;

  namedWeights(): Map<string, tf.Variable> {
    const all = new Map<string, tf.Variable>();
    for (const [prefix, layer] of Object.entries(this.layers())) {
      for (const [name, variable] of layer.namedWeights()) all.set(`${prefix}.${name}`, variable);
    }
    return all;
  }

  trainableVariables(): tf.Variable[] {
    return Object.values(this.layers()).flatMap((layer) => layer.trainableVariables());
  }

  /**
   * Copies a pre-trained encoder's weights (running statistics included) from the
   * `encoder.*` entries of `weights`; entries of other layers (a decoder, a neck) are not
   * used. Returns how many were copied. The other layers keep their own weights, so a head
   * starts fresh, as in MMPreTrain.
   */
  loadEncoder(weights: Map<string, tf.Tensor>): number {
    const encoder = new Map(
      [...this.namedWeights()].filter(([name]) => name.startsWith('encoder.')),
    );
    assignByName(encoder, weights, 'the pre-trained weights');
    return encoder.size;
  }

  /** Frees the weights (tfjs-layers' own dispose only counts symbolic uses). */
  dispose(): void {
    tf.dispose([...this.namedWeights().values()]);
  }
}

/** Builds a layer's weights now, so they exist before the first forward (optimizers, checkpoints). */
export function built<T extends ParamLayer>(layer: T): T {
  layer.build([]);
  return layer;
}
