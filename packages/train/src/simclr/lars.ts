/**
 * MMPreTrain's LARS (docs/algorithms.md#lars), over named variables like the optimizers of
 * ../optimizers.ts: per parameter, local_lr = eta·‖w‖ / (‖g‖ + wd·‖w‖ + eps) (1 when either
 * norm is 0), d = (g + wd·w)·local_lr·lr, buf = momentum·buf + d, w ← w − buf.
 * Parameters whose names match the exclusions (batch norms, biases) get neither weight
 * decay nor the adaptation (SimCLR's `decay_mult=0, lars_exclude=True`).
 *
 * That update is PyTorch's SGD with learning rate 1 and no decay applied to d, so the
 * momentum buffers, checkpoint state (`<name>/momentum_buffer`, `step`) and argument checks
 * are the SGD optimizer's own.
 */

import { checkNumber, InvalidArgumentError } from '@masksweep/stats';
import * as tf from '@tensorflow/tfjs-core';
import {
  createOptimizer,
  type GradientMap,
  type NamedVariable,
  type Optimizer,
} from '../optimizers.js';

export interface LarsConfig {
  /** Learning rate used when `step` is not given one. */
  lr: number;
  /** Weight decay of the adapted group used when `step` is not given one (SimCLR: 1e-6). */
  weightDecay: number;
  /** @default 0.9 */
  momentum?: number;
  /** The trust coefficient. @default 0.001 */
  eta?: number;
  /** @default 1e-8 */
  eps?: number;
  /**
   * Names that get no weight decay and no adaptation (matched anywhere in the name).
   * @default LARS_EXCLUDE_PATTERN
   */
  excludeNames?: RegExp;
}

export type ResolvedLarsConfig = Required<LarsConfig>;

/**
 * SimCLR's `paramwise_cfg` keys: `bn` and `bias`, and `downsample.1`, the batch norm of a
 * ResNet block's projection shortcut.
 */
export const LARS_EXCLUDE_PATTERN = /bn|bias|downsample\.1/;

/** The Optimizer contract of ../optimizers.ts with LARS's own config. */
export interface LarsOptimizer extends Omit<Optimizer, 'config' | 'decays'> {
  readonly config: Readonly<ResolvedLarsConfig>;
  /** Whether the parameter gets weight decay and the trust ratio: decided by name alone. */
  decays(name: string, shape?: readonly number[]): boolean;
}

export function createLarsOptimizer(
  config: LarsConfig,
  params: readonly NamedVariable[],
): LarsOptimizer {
  return new Lars(resolveLarsConfig(config), params);
}

function resolveLarsConfig(config: LarsConfig): ResolvedLarsConfig {
  const excludeNames = config.excludeNames ?? LARS_EXCLUDE_PATTERN;
  if (!(excludeNames instanceof RegExp)) {
    throw new InvalidArgumentError('excludeNames', 'must be a RegExp');
  }
  return {
    lr: checkNumber('lr', config.lr, { min: 0 }),
    weightDecay: checkNumber('weightDecay', config.weightDecay, { min: 0 }),
    momentum: checkNumber('momentum', config.momentum ?? 0.9, {
      min: 0,
      max: 1,
      maxExclusive: true,
    }),
    eta: checkNumber('eta', config.eta ?? 0.001, { min: 0, minExclusive: true }),
    eps: checkNumber('eps', config.eps ?? 1e-8, { min: 0 }),
    // A global or sticky RegExp would remember lastIndex between test() calls.
    excludeNames: new RegExp(excludeNames.source, excludeNames.flags.replace(/[gy]/g, '')),
  };
}

class Lars implements LarsOptimizer {
  /** Holds the momentum buffers and applies buf = momentum·buf + d, w ← w − buf. */
  private readonly sgd: Optimizer;
  /** Parameters by name and by variable.name, the keys gradients may come with. */
  private readonly byKey = new Map<string, NamedVariable>();

  constructor(
    readonly config: ResolvedLarsConfig,
    params: readonly NamedVariable[],
  ) {
    this.sgd = createOptimizer(
      { type: 'sgd', lr: 1, weightDecay: 0, momentum: config.momentum },
      params,
    );
    for (const param of params) this.byKey.set(param.name, param);
    for (const param of params) {
      if (!this.byKey.has(param.variable.name)) this.byKey.set(param.variable.name, param);
    }
  }

  get stepCount(): number {
    return this.sgd.stepCount;
  }

  decays(name: string): boolean {
    return !this.config.excludeNames.test(name);
  }

  step(grads: GradientMap, lr = this.config.lr, weightDecay = this.config.weightDecay): void {
    checkNumber('lr', lr, { min: 0 });
    checkNumber('weightDecay', weightDecay, { min: 0 });
    const entries =
      grads instanceof Map
        ? [...(grads as ReadonlyMap<string, tf.Tensor>)]
        : Object.entries(grads as tf.NamedTensorMap);
    // Every key is checked before any tensor is made, so a bad map leaks nothing.
    const params = entries.map(([key, grad]) => this.parameterOf(key, grad));
    const updates = new Map(
      entries.map(([key, grad], i) => [
        key,
        this.scaledUpdate(params[i] as NamedVariable, grad, lr, weightDecay),
      ]),
    );
    try {
      this.sgd.step(updates, 1, 0);
    } finally {
      tf.dispose([...updates.values()]);
    }
  }

  private parameterOf(key: string, grad: tf.Tensor): NamedVariable {
    const param = this.byKey.get(key);
    if (param === undefined)
      throw new InvalidArgumentError('grads', `no parameter is named ${key}`);
    if (!tf.util.arraysEqual(grad.shape, param.variable.shape)) {
      throw new InvalidArgumentError(
        'grads',
        `${key} has shape [${grad.shape}], its parameter [${param.variable.shape}]`,
      );
    }
    return param;
  }

  /** d = (g + wd·w)·local_lr·lr; excluded parameters: d = g·lr. */
  private scaledUpdate(
    { name, variable }: NamedVariable,
    grad: tf.Tensor,
    lr: number,
    weightDecay: number,
  ): tf.Tensor {
    if (!this.decays(name)) return tf.mul(grad, lr);
    return tf.tidy(() => {
      const weightNorm = tf.norm(variable);
      const gradNorm = tf.norm(grad);
      const adapted = tf.div(
        tf.mul(weightNorm, this.config.eta),
        tf.add(tf.add(gradNorm, tf.mul(weightNorm, weightDecay)), this.config.eps),
      );
      const bothNonZero = tf.logicalAnd(tf.greater(weightNorm, 0), tf.greater(gradNorm, 0));
      const localLr = tf.where(bothNonZero, adapted, tf.onesLike(adapted));
      const decayed = weightDecay === 0 ? grad : tf.add(grad, tf.mul(variable, weightDecay));
      return tf.mul(decayed, tf.mul(localLr, lr));
    });
  }

  state(): tf.NamedTensorMap {
    return this.sgd.state();
  }

  loadState(state: tf.NamedTensorMap): void {
    this.sgd.loadState(state);
  }

  dispose(): void {
    this.sgd.dispose();
  }
}
