/**
 * AdamW, LAMB and SGD over named variables, with the parameter groups of MMPreTrain's SparK
 * and ConvNeXt configs (docs/algorithms.md#optimisers-and-schedules): no weight decay on 1-D
 * parameters (biases, norm weights, layer-scale gamma) and on names matching `mask_token` or
 * `bias`.
 *
 * The learning rate and weight decay are passed to every `step`, so schedules stay outside
 * the optimizer and a resumed run needs only the step number and `state()`.
 */

import { checkNumber, InvalidArgumentError } from '@masksweep/stats';
import * as tf from '@tensorflow/tfjs-core';

export type OptimizerType = 'adamw' | 'lamb' | 'sgd';

export interface OptimizerConfig {
  type: OptimizerType;
  /** Learning rate used when `step` is not given one. */
  lr: number;
  /** Weight decay of the decaying group used when `step` is not given one. */
  weightDecay: number;
  /**
   * Moment decay rates of AdamW and LAMB.
   * @default [0.9, 0.999] for AdamW, [0.9, 0.95] for LAMB (SparK)
   */
  betas?: readonly [number, number];
  /**
   * Added to the root of the second moment.
   * @default 1e-8 for AdamW, 1e-6 for LAMB
   */
  eps?: number;
  /**
   * SGD momentum (PyTorch's own default is 0; MMPreTrain configs use 0.9).
   * @default 0.9
   */
  momentum?: number;
  /**
   * LAMB's own clip of the global gradient norm before the moments (timm `max_grad_norm`);
   * `Infinity` turns it off.
   * @default 1.0
   */
  maxGradNorm?: number;
  /**
   * Parameter names that never decay, besides all parameters with fewer than 2 dimensions.
   * @default NO_DECAY_NAME_PATTERN
   */
  noDecayNames?: RegExp;
}

/** The config with every default filled in. */
export interface ResolvedOptimizerConfig {
  type: OptimizerType;
  lr: number;
  weightDecay: number;
  betas: readonly [number, number];
  eps: number;
  momentum: number;
  maxGradNorm: number;
  noDecayNames: RegExp;
}

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/** Gradients keyed by parameter name (or by `variable.name`, as `tf.variableGrads` gives). */
export type GradientMap = ReadonlyMap<string, tf.Tensor> | tf.NamedTensorMap;

export interface Optimizer {
  readonly config: Readonly<ResolvedOptimizerConfig>;
  /** Number of `step` calls so far (the bias-correction clock). */
  readonly stepCount: number;
  /** Whether the parameter is in the weight-decay group. */
  decays(name: string, shape: readonly number[]): boolean;
  /**
   * Updates every parameter that has a gradient. `weightDecay` applies to the decaying
   * group only; the other group always has 0. Parameters without a gradient are left alone.
   */
  step(grads: GradientMap, lr?: number, weightDecay?: number): void;
  /** Copies of the step count and every moment, for a checkpoint; the caller disposes them. */
  state(): tf.NamedTensorMap;
  /** Restores `state()` output; the tensors stay the caller's to dispose. */
  loadState(state: tf.NamedTensorMap): void;
  /** Frees the moment variables; the parameters are the caller's. */
  dispose(): void;
}

/** Names that never decay in the SparK configs, whatever their shape. */
export const NO_DECAY_NAME_PATTERN = /mask_token|bias/;

/**
 * MAE's and MFF's names that never decay (docs/algorithms.md#mff; ln, bias, pos_embed, mask_token,
 * cls_token); LayerNorm weights are 1-D, which never decay anyway.
 */
export const VIT_NO_DECAY_NAMES = /cls_token|pos_embed|mask_token|bias/;

/** The decay rule on its own: parameters with at least 2 dims, except excluded names. */
export function decaysWeight(
  name: string,
  shape: readonly number[],
  noDecayNames: RegExp = NO_DECAY_NAME_PATTERN,
): boolean {
  return shape.length >= 2 && !noDecayNames.test(name);
}

/** The slot names follow PyTorch's optimizer state so checkpoints read alike. */
const SLOT_NAMES: Record<OptimizerType, readonly string[]> = {
  adamw: ['exp_avg', 'exp_avg_sq'],
  lamb: ['exp_avg', 'exp_avg_sq'],
  sgd: ['momentum_buffer'],
};

const STEP_KEY = 'step';

export function createOptimizer(
  config: OptimizerConfig,
  params: readonly NamedVariable[],
): Optimizer {
  return new NamedVariableOptimizer(resolveConfig(config), params);
}

function resolveConfig(config: OptimizerConfig): ResolvedOptimizerConfig {
  const { type } = config;
  if (type !== 'adamw' && type !== 'lamb' && type !== 'sgd') {
    throw new InvalidArgumentError('type', `must be 'adamw', 'lamb' or 'sgd', got ${String(type)}`);
  }
  const betas = config.betas ?? (type === 'lamb' ? [0.9, 0.95] : [0.9, 0.999]);
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw new InvalidArgumentError('betas', `must be a pair of numbers, got ${String(betas)}`);
  }
  checkNumber('betas[0]', betas[0], { min: 0, max: 1, maxExclusive: true });
  checkNumber('betas[1]', betas[1], { min: 0, max: 1, maxExclusive: true });
  const maxGradNorm = config.maxGradNorm ?? 1;
  if (maxGradNorm !== Number.POSITIVE_INFINITY) {
    checkNumber('maxGradNorm', maxGradNorm, { min: 0, minExclusive: true });
  }
  const noDecayNames = config.noDecayNames ?? NO_DECAY_NAME_PATTERN;
  if (!(noDecayNames instanceof RegExp)) {
    throw new InvalidArgumentError('noDecayNames', 'must be a RegExp');
  }
  return {
    type,
    lr: checkNumber('lr', config.lr, { min: 0 }),
    weightDecay: checkNumber('weightDecay', config.weightDecay, { min: 0 }),
    betas: [betas[0], betas[1]],
    eps: checkNumber('eps', config.eps ?? (type === 'lamb' ? 1e-6 : 1e-8), {
      min: 0,
      minExclusive: true,
    }),
    momentum: checkNumber('momentum', config.momentum ?? 0.9, {
      min: 0,
      max: 1,
      maxExclusive: true,
    }),
    maxGradNorm,
    // A global or sticky RegExp would remember lastIndex between test() calls.
    noDecayNames: new RegExp(noDecayNames.source, noDecayNames.flags.replace(/[gy]/g, '')),
  };
}

interface Parameter {
  name: string;
  variable: tf.Variable;
  decays: boolean;
  /** Moment variables in SLOT_NAMES order. */
  slots: tf.Variable[];
}

/** The numbers of one update; the tensor work runs inside step()'s tidy. */
interface UpdateContext {
  lr: number;
  weightDecay: number;
  step: number;
}

class NamedVariableOptimizer implements Optimizer {
  private readonly parameters: Parameter[];
  private readonly byKey = new Map<string, Parameter>();
  private steps = 0;
  private disposed = false;

  constructor(
    readonly config: ResolvedOptimizerConfig,
    params: readonly NamedVariable[],
  ) {
    if (params.length === 0) throw new InvalidArgumentError('params', 'needs at least one');
    const seenNames = new Set<string>();
    const seenVariables = new Set<tf.Variable>();
    for (const { name, variable } of params) {
      if (typeof name !== 'string' || name === '') {
        throw new InvalidArgumentError('params', 'every parameter needs a non-empty name');
      }
      if (seenNames.has(name)) {
        throw new InvalidArgumentError('params', `the name ${name} appears twice`);
      }
      if (seenVariables.has(variable)) {
        throw new InvalidArgumentError('params', `${name} reuses another parameter's variable`);
      }
      if (variable.dtype !== 'float32') {
        throw new InvalidArgumentError('params', `${name} must be float32, got ${variable.dtype}`);
      }
      seenNames.add(name);
      seenVariables.add(variable);
    }
    this.parameters = params.map(({ name, variable }) => ({
      name,
      variable,
      decays: this.decays(name, variable.shape),
      slots: SLOT_NAMES[config.type].map(() => zeroVariableLike(variable)),
    }));
    for (const parameter of this.parameters) this.byKey.set(parameter.name, parameter);
    // tf.variableGrads keys gradients by variable.name, so accept those too.
    for (const parameter of this.parameters) {
      if (!this.byKey.has(parameter.variable.name)) {
        this.byKey.set(parameter.variable.name, parameter);
      }
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  decays(name: string, shape: readonly number[]): boolean {
    return decaysWeight(name, shape, this.config.noDecayNames);
  }

  step(grads: GradientMap, lr = this.config.lr, weightDecay = this.config.weightDecay): void {
    this.checkUsable();
    checkNumber('lr', lr, { min: 0 });
    checkNumber('weightDecay', weightDecay, { min: 0 });
    const pairs = this.matchGradients(grads);
    this.steps += 1;
    const context: UpdateContext = { lr, weightDecay, step: this.steps };
    tf.tidy(() => {
      switch (this.config.type) {
        case 'adamw':
          for (const [parameter, grad] of pairs) this.adamwUpdate(parameter, grad, context);
          break;
        case 'lamb': {
          const divisor = this.lambClipDivisor(pairs.map(([, grad]) => grad));
          for (const [parameter, grad] of pairs) {
            this.lambUpdate(parameter, tf.div(grad, divisor), context);
          }
          break;
        }
        case 'sgd':
          for (const [parameter, grad] of pairs) this.sgdUpdate(parameter, grad, context);
          break;
      }
    });
  }

  state(): tf.NamedTensorMap {
    this.checkUsable();
    const state: tf.NamedTensorMap = { [STEP_KEY]: tf.scalar(this.steps, 'int32') };
    const slotNames = SLOT_NAMES[this.config.type];
    for (const parameter of this.parameters) {
      parameter.slots.forEach((slot, index) => {
        state[`${parameter.name}/${slotNames[index]}`] = tf.clone(slot);
      });
    }
    return state;
  }

  loadState(state: tf.NamedTensorMap): void {
    this.checkUsable();
    const slotNames = SLOT_NAMES[this.config.type];
    const expected = new Set([STEP_KEY]);
    for (const parameter of this.parameters) {
      for (const slotName of slotNames) expected.add(`${parameter.name}/${slotName}`);
    }
    for (const key of Object.keys(state)) {
      if (!expected.has(key)) {
        throw new InvalidArgumentError('state', `unexpected entry ${key} for ${this.config.type}`);
      }
    }
    const stepTensor = state[STEP_KEY];
    if (stepTensor === undefined || stepTensor.size !== 1) {
      throw new InvalidArgumentError('state', `${STEP_KEY} must be a scalar`);
    }
    const steps = stepTensor.dataSync()[0] as number;
    if (!Number.isInteger(steps) || steps < 0) {
      throw new InvalidArgumentError('state', `${STEP_KEY} must be an integer >= 0, got ${steps}`);
    }
    // Check everything before assigning anything, so a bad checkpoint changes nothing.
    const assignments: Array<[tf.Variable, tf.Tensor]> = [];
    for (const parameter of this.parameters) {
      parameter.slots.forEach((slot, index) => {
        const key = `${parameter.name}/${slotNames[index]}`;
        const value = state[key];
        if (value === undefined) throw new InvalidArgumentError('state', `missing ${key}`);
        if (!tf.util.arraysEqual(value.shape, slot.shape) || value.dtype !== 'float32') {
          throw new InvalidArgumentError(
            'state',
            `${key} must be float32 [${slot.shape}], got ${value.dtype} [${value.shape}]`,
          );
        }
        assignments.push([slot, value]);
      });
    }
    // assign() shares the data and counts a reference, so the caller may dispose its copy.
    for (const [slot, value] of assignments) slot.assign(value);
    this.steps = steps;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const parameter of this.parameters) {
      for (const slot of parameter.slots) slot.dispose();
    }
  }

  private checkUsable(): void {
    if (this.disposed) throw new Error('the optimizer has been disposed');
  }

  private matchGradients(grads: GradientMap): Array<[Parameter, tf.Tensor]> {
    const pairs: Array<[Parameter, tf.Tensor]> = [];
    const matched = new Set<Parameter>();
    for (const [key, grad] of gradientEntries(grads)) {
      const parameter = this.byKey.get(key);
      if (parameter === undefined) {
        throw new InvalidArgumentError('grads', `no parameter is named ${key}`);
      }
      if (matched.has(parameter)) {
        throw new InvalidArgumentError('grads', `two gradients for ${parameter.name}`);
      }
      if (!tf.util.arraysEqual(grad.shape, parameter.variable.shape)) {
        throw new InvalidArgumentError(
          'grads',
          `${key} has shape [${grad.shape}], its parameter [${parameter.variable.shape}]`,
        );
      }
      matched.add(parameter);
      pairs.push([parameter, grad]);
    }
    if (pairs.length === 0) throw new InvalidArgumentError('grads', 'no gradients to apply');
    return pairs;
  }

  /** PyTorch AdamW: decoupled decay p ← p(1 − lr·wd), then the bias-corrected Adam step. */
  private adamwUpdate(parameter: Parameter, grad: tf.Tensor, context: UpdateContext): void {
    const [beta1, beta2] = this.config.betas;
    const [expAvg, expAvgSq] = parameter.slots as [tf.Variable, tf.Variable];
    const weightDecay = parameter.decays ? context.weightDecay : 0;
    const { variable } = parameter;
    const decayed = weightDecay === 0 ? variable : tf.mul(variable, 1 - context.lr * weightDecay);
    expAvg.assign(tf.add(tf.mul(expAvg, beta1), tf.mul(grad, 1 - beta1)));
    expAvgSq.assign(tf.add(tf.mul(expAvgSq, beta2), tf.mul(tf.square(grad), 1 - beta2)));
    const biasCorrection1 = 1 - beta1 ** context.step;
    const biasCorrection2 = 1 - beta2 ** context.step;
    const denominator = tf.add(
      tf.div(tf.sqrt(expAvgSq), Math.sqrt(biasCorrection2)),
      this.config.eps,
    );
    const stepSize = context.lr / biasCorrection1;
    variable.assign(tf.sub(decayed, tf.mul(tf.div(expAvg, denominator), stepSize)));
  }

  /**
   * timm's LAMB clips the global gradient norm to maxGradNorm by dividing every gradient by
   * max(‖g‖ / maxGradNorm, 1), so the clipped norm is exactly maxGradNorm.
   */
  private lambClipDivisor(grads: tf.Tensor[]): tf.Tensor | number {
    if (this.config.maxGradNorm === Number.POSITIVE_INFINITY) return 1;
    return tf.maximum(tf.div(globalNormTensor(grads), this.config.maxGradNorm), 1);
  }

  /**
   * timm/MMPreTrain LAMB on an already clipped gradient
   * (docs/algorithms.md#optimisers-and-schedules).
   */
  private lambUpdate(parameter: Parameter, grad: tf.Tensor, context: UpdateContext): void {
    const [beta1, beta2] = this.config.betas;
    const [expAvg, expAvgSq] = parameter.slots as [tf.Variable, tf.Variable];
    const weightDecay = parameter.decays ? context.weightDecay : 0;
    const { variable } = parameter;
    expAvg.assign(tf.add(tf.mul(expAvg, beta1), tf.mul(grad, 1 - beta1)));
    expAvgSq.assign(tf.add(tf.mul(expAvgSq, beta2), tf.mul(tf.square(grad), 1 - beta2)));
    const biasCorrection1 = 1 - beta1 ** context.step;
    const biasCorrection2 = 1 - beta2 ** context.step;
    const denominator = tf.add(
      tf.div(tf.sqrt(expAvgSq), Math.sqrt(biasCorrection2)),
      this.config.eps,
    );
    let update = tf.div(tf.div(expAvg, biasCorrection1), denominator);
    // The trust ratio only applies to the decaying group (timm's always_adapt=False).
    if (weightDecay !== 0) {
      update = tf.add(update, tf.mul(variable, weightDecay));
      const weightNorm = tf.norm(variable);
      const updateNorm = tf.norm(update);
      const one = tf.onesLike(weightNorm);
      const trustRatio = tf.where(
        tf.greater(weightNorm, 0),
        tf.where(tf.greater(updateNorm, 0), tf.div(weightNorm, updateNorm), one),
        one,
      );
      update = tf.mul(update, trustRatio);
    }
    variable.assign(tf.sub(variable, tf.mul(update, context.lr)));
  }

  /** PyTorch SGD (no dampening, no Nesterov): coupled L2 decay, then heavy-ball momentum. */
  private sgdUpdate(parameter: Parameter, grad: tf.Tensor, context: UpdateContext): void {
    const [buffer] = parameter.slots as [tf.Variable];
    const weightDecay = parameter.decays ? context.weightDecay : 0;
    const { variable } = parameter;
    const decayedGrad = weightDecay === 0 ? grad : tf.add(grad, tf.mul(variable, weightDecay));
    // Starting from a zero buffer gives PyTorch's first step (buffer = grad) exactly.
    buffer.assign(tf.add(tf.mul(buffer, this.config.momentum), decayedGrad));
    variable.assign(tf.sub(variable, tf.mul(buffer, context.lr)));
  }
}

function zeroVariableLike(variable: tf.Variable): tf.Variable {
  const zeros = tf.zerosLike(variable);
  const slot = tf.variable(zeros, false);
  zeros.dispose();
  return slot;
}

function gradientEntries(grads: GradientMap): Array<[string, tf.Tensor]> {
  return grads instanceof Map
    ? [...(grads as ReadonlyMap<string, tf.Tensor>).entries()]
    : Object.entries(grads as tf.NamedTensorMap);
}

/** sqrt(Σ ‖g‖²) over all gradients, as a scalar tensor (the caller's tidy owns it). */
function globalNormTensor(grads: readonly tf.Tensor[]): tf.Scalar {
  return tf.sqrt(tf.addN(grads.map((grad) => tf.sum(tf.square(grad))))) as tf.Scalar;
}

/** The global L2 norm of all gradients together. */
export function globalNorm(grads: GradientMap | readonly tf.Tensor[]): number {
  const tensors = Array.isArray(grads)
    ? (grads as readonly tf.Tensor[])
    : gradientEntries(grads as GradientMap).map(([, grad]) => grad);
  if (tensors.length === 0) return 0;
  const norm = tf.tidy(() => globalNormTensor(tensors));
  const value = norm.dataSync()[0] as number;
  norm.dispose();
  return value;
}

export interface ClippedGradients<T extends GradientMap> {
  /** New tensors (scaled copies, or plain copies when no clipping was needed); dispose them. */
  grads: T;
  /** The global norm before clipping; check it with `allFinite` before stepping. */
  norm: number;
}

/**
 * PyTorch's clip_grad_norm_: scales all gradients by min(1, maxNorm / (norm + 1e-6)), so a
 * norm above maxNorm ends just below it. Non-finite norms leave the copies unscaled.
 */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): ClippedGradients<Map<string, tf.Tensor>>;
export function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): ClippedGradients<tf.NamedTensorMap>;
export function clipByGlobalNorm(
  grads: GradientMap,
  maxNorm: number,
): ClippedGradients<Map<string, tf.Tensor> | tf.NamedTensorMap> {
  checkNumber('maxNorm', maxNorm, { min: 0, minExclusive: true });
  const entries = gradientEntries(grads);
  const norm = globalNorm(entries.map(([, grad]) => grad));
  const scale = Number.isFinite(norm) ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
  const scaled = entries.map(([key, grad]): [string, tf.Tensor] => [
    key,
    tf.tidy(() => (scale < 1 ? tf.mul(grad, scale) : tf.clone(grad))),
  ]);
  return {
    grads: grads instanceof Map ? new Map(scaled) : Object.fromEntries(scaled),
    norm,
  };
}

/** True when the number, or every element of the tensor, is finite (no NaN or ±Infinity). */
export function allFinite(value: number | tf.Tensor): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  const finite = tf.tidy(() => tf.all(tf.isFinite(value)));
  const result = finite.dataSync()[0] === 1;
  finite.dispose();
  return result;
}
