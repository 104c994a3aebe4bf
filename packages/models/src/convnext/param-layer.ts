import { Random } from '@masksweep/random';
import type * as tf from '@tensorflow/tfjs-core';
import { initializers, type LayerVariable, layers } from '@tensorflow/tfjs-layers';

export interface ParamLayerArgs {
  name?: string;
  /** Seed of the weight initialisation: the same seed gives the same weights on every backend. */
  seed: number;
}

/**
 * A tfjs-layers Layer whose weights are drawn from our seeded generator and are known by
 * stable names (`stages.0.1.dw.kernel`), the keys of checkpoints.
 */
export abstract class ParamLayer extends layers.Layer {
  readonly seed: number;
  private readonly params = new Map<string, LayerVariable>();

  constructor(args: ParamLayerArgs) {
    super({ name: args.name });
    this.seed = args.seed;
  }

  /** Adds a weight initialised by `init` from a generator forked by the weight's name. */
  protected param(
    name: string,
    shape: number[],
    init: (rng: Random) => tf.Tensor,
    trainable = true,
  ): tf.Variable {
    const variable = this.addWeight(
      name,
      shape,
      'float32',
      initializers.zeros(),
      undefined,
      trainable,
    );
    const value = init(new Random(this.seed).fork(name));
    variable.write(value);
    value.dispose();
    this.params.set(name, variable);
    return variable.read() as tf.Variable;
  }

  /** Every weight by its stable name, trainable and not (running statistics). */
  namedWeights(): Map<string, tf.Variable> {
    return new Map([...this.params].map(([name, v]) => [name, v.read() as tf.Variable]));
  }

  /** Weights that take gradients. */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable).map((v) => v.read() as tf.Variable);
  }

  override getConfig() {
    return { ...super.getConfig(), seed: this.seed };
  }
}
