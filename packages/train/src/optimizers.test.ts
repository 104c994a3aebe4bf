import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allFinite,
  clipByGlobalNorm,
  createOptimizer,
  decaysWeight,
  globalNorm,
  type NamedVariable,
  type OptimizerConfig,
} from './optimizers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Float32 tensors against float64 arithmetic. */
function expectClose(actual: tf.Tensor, expected: number[], tolerance = 1e-6): void {
  const values = Array.from(actual.dataSync());
  expect(values).toHaveLength(expected.length);
  values.forEach((value, index) => {
    expect(Math.abs(value - (expected[index] as number))).toBeLessThanOrEqual(tolerance);
  });
}

function norm(values: readonly number[]): number {
  return Math.sqrt(values.reduce((sum, value) => sum + value * value, 0));
}

/** A parameter as plain numbers: shape decides the decay group like decaysWeight does. */
interface ReferenceParameter {
  name: string;
  shape: number[];
  values: number[];
  expAvg: number[];
  expAvgSq: number[];
}

function referenceParameter(name: string, shape: number[], values: number[]): ReferenceParameter {
  return {
    name,
    shape,
    values: [...values],
    expAvg: values.map(() => 0),
    expAvgSq: values.map(() => 0),
  };
}

/** PyTorch AdamW, written out on plain numbers. */
function adamwReference(
  params: ReferenceParameter[],
  grads: number[][],
  step: number,
  lr: number,
  weightDecay: number,
  [beta1, beta2] = [0.9, 0.999],
  eps = 1e-8,
): void {
  params.forEach((param, k) => {
    const grad = grads[k] as number[];
    const decay = decaysWeight(param.name, param.shape) ? weightDecay : 0;
    param.values = param.values.map((p, i) => {
      const g = grad[i] as number;
      const m = beta1 * (param.expAvg[i] as number) + (1 - beta1) * g;
      const v = beta2 * (param.expAvgSq[i] as number) + (1 - beta2) * g * g;
      param.expAvg[i] = m;
      param.expAvgSq[i] = v;
      const denominator = Math.sqrt(v) / Math.sqrt(1 - beta2 ** step) + eps;
      return p * (1 - lr * decay) - (lr / (1 - beta1 ** step)) * (m / denominator);
    });
  });
}

/** timm's LAMB (docs/algorithms.md#optimisers-and-schedules), written out on plain numbers. */
function lambReference(
  params: ReferenceParameter[],
  grads: number[][],
  step: number,
  lr: number,
  weightDecay: number,
  [beta1, beta2] = [0.9, 0.95],
  eps = 1e-6,
  maxGradNorm = 1,
): void {
  const globalGradNorm = norm(grads.flat());
  const divisor = globalGradNorm > maxGradNorm ? globalGradNorm / maxGradNorm : 1;
  params.forEach((param, k) => {
    const grad = (grads[k] as number[]).map((g) => g / divisor);
    const decay = decaysWeight(param.name, param.shape) ? weightDecay : 0;
    let update = param.values.map((p, i) => {
      const g = grad[i] as number;
      const m = beta1 * (param.expAvg[i] as number) + (1 - beta1) * g;
      const v = beta2 * (param.expAvgSq[i] as number) + (1 - beta2) * g * g;
      param.expAvg[i] = m;
      param.expAvgSq[i] = v;
      const u = m / (1 - beta1 ** step) / (Math.sqrt(v) / Math.sqrt(1 - beta2 ** step) + eps);
      return u + decay * p;
    });
    if (decay !== 0) {
      const weightNorm = norm(param.values);
      const updateNorm = norm(update);
      const trust = weightNorm > 0 && updateNorm > 0 ? weightNorm / updateNorm : 1;
      update = update.map((u) => u * trust);
    }
    param.values = param.values.map((p, i) => p - lr * (update[i] as number));
  });
}

/** Variables mirroring the reference parameters; the caller disposes them. */
function variablesFor(params: ReferenceParameter[]): NamedVariable[] {
  return params.map((param) => ({
    name: param.name,
    variable: tf.variable(tf.tensor(param.values, param.shape)),
  }));
}

function disposeAll(params: NamedVariable[]): void {
  for (const { variable } of params) variable.dispose();
}

/** Gradients as tensors keyed by parameter name; the caller disposes them. */
function gradientMap(params: ReferenceParameter[], grads: number[][]): Map<string, tf.Tensor> {
  return new Map(
    params.map((param, k) => [param.name, tf.tensor(grads[k] as number[], param.shape)]),
  );
}

/** Three parameters: a decaying kernel, a 1-D bias and a 2-D mask token (never decays). */
function sparkLikeParameters(): ReferenceParameter[] {
  return [
    referenceParameter('stages.0.pwconv1/kernel', [2, 2], [0.5, -1.0, 1.5, 2.0]),
    referenceParameter('stages.0.pwconv1/bias', [3], [0.1, -0.2, 0.3]),
    referenceParameter('mask_token', [1, 2], [0.02, -0.01]),
  ];
}

/** Fixed, varied gradients per step: large enough to trigger LAMB's global clip at step 0. */
function gradientsAt(step: number): number[][] {
  const scale = step === 0 ? 2 : 0.3;
  return [
    [0.3, -0.1, 0.2, 0.4].map((g, i) => scale * g * (1 + 0.1 * step * (i - 1))),
    [0.05, 0.5, -0.25].map((g, i) => scale * g * (1 - 0.2 * step + 0.05 * i)),
    [-0.7, 0.2].map((g) => scale * g),
  ];
}

describe('decaysWeight', () => {
  it('decays kernels but not 1-D parameters, scalars, biases or the mask token', () => {
    expect(decaysWeight('stages.0.dwconv/kernel', [7, 7, 1, 96])).toBe(true);
    expect(decaysWeight('head/kernel', [768, 2])).toBe(true);
    expect(decaysWeight('stages.0.gamma', [96])).toBe(false);
    expect(decaysWeight('norm3/gamma', [768])).toBe(false);
    expect(decaysWeight('temperature', [])).toBe(false);
    expect(decaysWeight('head/bias', [2])).toBe(false);
    // Names rule even when the shape would decay.
    expect(decaysWeight('odd/bias_table', [4, 4])).toBe(false);
    expect(decaysWeight('mask_token', [1, 1, 1, 768])).toBe(false);
    expect(decaysWeight('pos_embed', [1, 49, 768], /mask_token|bias|pos_embed/)).toBe(false);
  });

  it('is what an optimizer uses, with its own name pattern', () => {
    const params = variablesFor([referenceParameter('w', [1, 1], [1])]);
    const optimizer = createOptimizer(
      { type: 'adamw', lr: 1e-3, weightDecay: 0.05, noDecayNames: /gamma/g },
      params,
    );
    expect(optimizer.decays('stages.0.gamma', [1, 96])).toBe(false);
    // A global RegExp would alternate between answers; the optimizer strips the flag.
    expect(optimizer.decays('stages.0.gamma', [1, 96])).toBe(false);
    expect(optimizer.decays('head/bias', [2, 2])).toBe(true);
    optimizer.dispose();
    disposeAll(params);
  });
});

describe('AdamW', () => {
  it('takes a first step worked out by hand', () => {
    // Step 1: m̂ = g and v̂ = g², so the Adam step is lr·g/(|g| + eps) ≈ lr·sign(g); the
    // decoupled decay multiplies the kernel by 1 − lr·wd = 1 − 0.01·0.1 = 0.999 first.
    const params = [
      { name: 'kernel', variable: tf.variable(tf.tensor2d([[1, -2, 0.5]])) },
      { name: 'bias', variable: tf.variable(tf.tensor1d([1, -2, 0.5])) },
    ];
    const grads = {
      kernel: tf.tensor2d([[0.1, -0.2, 0.3]]),
      bias: tf.tensor1d([0.1, -0.2, 0.3]),
    };
    const optimizer = createOptimizer({ type: 'adamw', lr: 0.01, weightDecay: 0.1 }, params);
    optimizer.step(grads);
    const adam = [0.1, -0.2, 0.3].map((g) => (0.01 * g) / (Math.abs(g) + 1e-8));
    expectClose(params[0]?.variable as tf.Variable, [
      1 * 0.999 - (adam[0] as number), // 0.989
      -2 * 0.999 - (adam[1] as number), // -1.988
      0.5 * 0.999 - (adam[2] as number), // 0.4895
    ]);
    expectClose(params[0]?.variable as tf.Variable, [0.989, -1.988, 0.4895]);
    // The bias does not decay: just the Adam step.
    expectClose(params[1]?.variable as tf.Variable, [0.99, -1.99, 0.49]);
    optimizer.dispose();
    disposeAll(params);
    tf.dispose(grads);
  });

  it('matches the reference over several steps with changing lr and decay', () => {
    const reference = sparkLikeParameters();
    const params = variablesFor(reference);
    const optimizer = createOptimizer({ type: 'adamw', lr: 0, weightDecay: 0 }, params);
    for (let step = 0; step < 4; step++) {
      const lr = 0.01 * (step + 1);
      const weightDecay = 0.05 + 0.05 * step;
      const grads = gradientsAt(step);
      adamwReference(reference, grads, step + 1, lr, weightDecay);
      const tensors = gradientMap(reference, grads);
      optimizer.step(tensors, lr, weightDecay);
      tf.dispose([...tensors.values()]);
    }
    params.forEach(({ variable }, k) => {
      expectClose(variable, (reference[k] as ReferenceParameter).values, 2e-6);
    });
    expect(optimizer.stepCount).toBe(4);
    optimizer.dispose();
    disposeAll(params);
  });
});

describe('LAMB', () => {
  it('takes a first step worked out by hand', () => {
    // p = [3, 4] (‖p‖ = 5), g = [1.2, 1.6] (‖g‖ = 2 > max 1, so g becomes [0.6, 0.8]).
    // m = 0.1·g, v = 0.05·g², so m̂ = g, sqrt(v̂) = |g| and m̂/(sqrt(v̂) + 1e-6) ≈ [1, 1].
    // u = [1, 1] + 0.1·p = [1.3, 1.4], ‖u‖ = sqrt(3.65), trust = 5 / sqrt(3.65).
    // p ← p − 0.01·trust·u.
    const params = [{ name: 'kernel', variable: tf.variable(tf.tensor2d([[3, 4]])) }];
    const grads = new Map([['kernel', tf.tensor2d([[1.2, 1.6]])]]);
    const optimizer = createOptimizer({ type: 'lamb', lr: 0.01, weightDecay: 0.1 }, params);
    optimizer.step(grads);
    const u = [0.6 / (0.6 + 1e-6) + 0.3, 0.8 / (0.8 + 1e-6) + 0.4];
    const trust = 5 / norm(u);
    expectClose(params[0]?.variable as tf.Variable, [
      3 - 0.01 * trust * (u[0] as number),
      4 - 0.01 * trust * (u[1] as number),
    ]);
    expectClose(params[0]?.variable as tf.Variable, [2.965977, 3.96336], 1e-5);
    optimizer.dispose();
    disposeAll(params);
    tf.dispose([...grads.values()]);
  });

  it('skips the trust ratio for parameters that do not decay and when wd is 0', () => {
    // Without decay the update is m̂/(sqrt(v̂) + eps) ≈ sign(g) on step 1, scaled by lr only.
    const params = [
      { name: 'kernel', variable: tf.variable(tf.tensor2d([[3, 4]])) },
      { name: 'norm/gamma', variable: tf.variable(tf.tensor1d([3, 4])) },
    ];
    const grads = { kernel: tf.tensor2d([[0.3, -0.4]]), 'norm/gamma': tf.tensor1d([0.3, -0.4]) };
    const optimizer = createOptimizer({ type: 'lamb', lr: 0.01, weightDecay: 0 }, params);
    optimizer.step(grads);
    for (const { variable } of params) expectClose(variable, [2.99, 4.01], 1e-6);
    optimizer.dispose();
    disposeAll(params);
    tf.dispose(grads);
  });

  it('uses a trust ratio of 1 for a zero parameter', () => {
    const params = [{ name: 'kernel', variable: tf.variable(tf.zeros([1, 2])) }];
    const grads = { kernel: tf.tensor2d([[0.3, -0.4]]) };
    const optimizer = createOptimizer({ type: 'lamb', lr: 0.01, weightDecay: 0.1 }, params);
    optimizer.step(grads);
    expectClose(params[0]?.variable as tf.Variable, [-0.01, 0.01], 1e-6);
    optimizer.dispose();
    disposeAll(params);
    tf.dispose(grads);
  });

  it('matches the reference over several steps, clip and groups included', () => {
    const reference = sparkLikeParameters();
    const params = variablesFor(reference);
    const optimizer = createOptimizer({ type: 'lamb', lr: 1.6e-3, weightDecay: 0.04 }, params);
    for (let step = 0; step < 4; step++) {
      const lr = 0.02 * (step + 1);
      const weightDecay = 0.04 + 0.04 * step;
      const grads = gradientsAt(step);
      lambReference(reference, grads, step + 1, lr, weightDecay);
      const tensors = gradientMap(reference, grads);
      optimizer.step(tensors, lr, weightDecay);
      tf.dispose([...tensors.values()]);
    }
    params.forEach(({ variable }, k) => {
      expectClose(variable, (reference[k] as ReferenceParameter).values, 2e-6);
    });
    optimizer.dispose();
    disposeAll(params);
  });
});

describe('SGD', () => {
  it('applies coupled decay and heavy-ball momentum', () => {
    // Step 1: buf = g + wd·p = 0.5 + 0.1·2 = 0.7; p = 2 − 0.1·0.7 = 1.93.
    // Step 2: buf = 0.9·0.7 + (0.5 + 0.1·1.93) = 1.323; p = 1.93 − 0.1·1.323 = 1.7977.
    const params = [{ name: 'w', variable: tf.variable(tf.tensor2d([[2]])) }];
    const grads = { w: tf.tensor2d([[0.5]]) };
    const optimizer = createOptimizer({ type: 'sgd', lr: 0.1, weightDecay: 0.1 }, params);
    optimizer.step(grads);
    expectClose(params[0]?.variable as tf.Variable, [1.93]);
    optimizer.step(grads);
    expectClose(params[0]?.variable as tf.Variable, [1.7977]);
    optimizer.dispose();
    disposeAll(params);
    tf.dispose(grads);
  });
});

describe('createOptimizer', () => {
  it('accepts the gradients of tf.variableGrads, keyed by variable name', () => {
    const variable = tf.variable(tf.tensor2d([[1, 2]]));
    const optimizer = createOptimizer({ type: 'adamw', lr: 0.1, weightDecay: 0 }, [
      { name: 'head/kernel', variable },
    ]);
    const loss = (): tf.Scalar => tf.sum(tf.square(variable));
    const initial = tf.tidy(() => loss().dataSync()[0] as number);
    for (let i = 0; i < 5; i++) {
      const { value, grads } = tf.variableGrads(loss, [variable]);
      optimizer.step(grads);
      tf.dispose([value, grads]);
    }
    expect(tf.tidy(() => loss().dataSync()[0] as number)).toBeLessThan(initial);
    optimizer.dispose();
    variable.dispose();
  });

  it('rejects unknown, duplicate and misshapen gradients', () => {
    const params = variablesFor([referenceParameter('w', [1, 2], [1, 2])]);
    const optimizer = createOptimizer({ type: 'sgd', lr: 0.1, weightDecay: 0 }, params);
    const wrongShape = tf.zeros([2]);
    const right = tf.zeros([1, 2]);
    expect(() => optimizer.step({ v: right })).toThrow(/^grads: no parameter is named v/);
    expect(() => optimizer.step({ w: wrongShape })).toThrow(/^grads: w has shape \[2\]/);
    expect(() => optimizer.step({})).toThrow(/^grads: no gradients/);
    expect(() =>
      optimizer.step(
        new Map([
          ['w', right],
          [(params[0] as NamedVariable).variable.name, right],
        ]),
      ),
    ).toThrow(/^grads: two gradients for w/);
    expect(optimizer.stepCount).toBe(0);
    expect(() => optimizer.step({ w: right }, -1)).toThrow(/^lr:/);
    tf.dispose([wrongShape, right]);
    optimizer.dispose();
    expect(() => optimizer.step({ w: right })).toThrow(/disposed/);
    disposeAll(params);
  });

  it('names the option or parameter it rejects', () => {
    const params = variablesFor([referenceParameter('w', [1, 2], [1, 2])]);
    const base: OptimizerConfig = { type: 'lamb', lr: 1e-3, weightDecay: 0.04 };
    const cases: Array<[Partial<OptimizerConfig>, RegExp]> = [
      [{ type: 'adam' as OptimizerConfig['type'] }, /^type:/],
      [{ lr: -1 }, /^lr:/],
      [{ weightDecay: Number.NaN }, /^weightDecay:/],
      [{ betas: [0.9, 1] }, /^betas\[1\]: must be < 1/],
      [{ eps: 0 }, /^eps: must be > 0/],
      [{ momentum: 1.5 }, /^momentum:/],
      [{ maxGradNorm: 0 }, /^maxGradNorm:/],
    ];
    for (const [override, message] of cases) {
      expect(() => createOptimizer({ ...base, ...override }, params)).toThrow(message);
    }
    const variable = (params[0] as NamedVariable).variable;
    const other = tf.variable(tf.zeros([1]));
    expect(() => createOptimizer(base, [])).toThrow(/^params: needs at least one/);
    expect(() =>
      createOptimizer(base, [
        { name: 'w', variable },
        { name: 'w', variable: other },
      ]),
    ).toThrow(/^params: the name w appears twice/);
    expect(() =>
      createOptimizer(base, [
        { name: 'w', variable },
        { name: 'v', variable },
      ]),
    ).toThrow(/^params: v reuses/);
    const integer = tf.variable(tf.zeros([1, 2], 'int32'));
    expect(() => createOptimizer(base, [{ name: 'steps', variable: integer }])).toThrow(
      /^params: steps must be float32, got int32/,
    );
    tf.dispose([other, integer]);
    disposeAll(params);
  });

  it('restores its state into a new optimizer that then steps identically', () => {
    for (const type of ['adamw', 'lamb', 'sgd'] as const) {
      const reference = sparkLikeParameters();
      const first = variablesFor(reference);
      const optimizer = createOptimizer({ type, lr: 0.05, weightDecay: 0.1 }, first);
      for (let step = 0; step < 3; step++) {
        const grads = gradientMap(reference, gradientsAt(step));
        optimizer.step(grads);
        tf.dispose([...grads.values()]);
      }
      const second = first.map(({ name, variable }) => ({
        name,
        variable: tf.variable(tf.clone(variable)),
      }));
      const state = optimizer.state();
      const restored = createOptimizer({ type, lr: 0.05, weightDecay: 0.1 }, second);
      restored.loadState(state);
      tf.dispose(state);
      expect(restored.stepCount).toBe(3);

      const grads = gradientMap(reference, gradientsAt(3));
      optimizer.step(grads);
      restored.step(grads);
      tf.dispose([...grads.values()]);
      first.forEach(({ variable }, k) => {
        const twin = (second[k] as NamedVariable).variable;
        expect(Array.from(twin.dataSync())).toEqual(Array.from(variable.dataSync()));
      });
      optimizer.dispose();
      restored.dispose();
      disposeAll(first);
      disposeAll(second);
    }
  });

  it('keeps PyTorch slot names and refuses a state of another kind or shape', () => {
    const reference = sparkLikeParameters();
    const params = variablesFor(reference);
    const adamw = createOptimizer({ type: 'adamw', lr: 0.05, weightDecay: 0.1 }, params);
    const sgd = createOptimizer({ type: 'sgd', lr: 0.05, weightDecay: 0.1 }, params);
    const state = adamw.state();
    expect(Object.keys(state)).toEqual([
      'step',
      'stages.0.pwconv1/kernel/exp_avg',
      'stages.0.pwconv1/kernel/exp_avg_sq',
      'stages.0.pwconv1/bias/exp_avg',
      'stages.0.pwconv1/bias/exp_avg_sq',
      'mask_token/exp_avg',
      'mask_token/exp_avg_sq',
    ]);
    expect(() => sgd.loadState(state)).toThrow(/^state: unexpected entry .*exp_avg for sgd/);
    const { 'mask_token/exp_avg': _dropped, ...missing } = state;
    expect(() => adamw.loadState(missing)).toThrow(/^state: missing mask_token\/exp_avg$/);
    const misshapen = { ...state, 'mask_token/exp_avg': tf.zeros([2]) };
    expect(() => adamw.loadState(misshapen)).toThrow(/^state: mask_token\/exp_avg must be/);
    tf.dispose([...Object.values(state), misshapen['mask_token/exp_avg']]);
    adamw.dispose();
    sgd.dispose();
    disposeAll(params);
  });

  it('leaks no tensors over steps, checkpoints and disposal', () => {
    const reference = sparkLikeParameters();
    const params = variablesFor(reference);
    const before = tf.memory().numTensors;
    for (const type of ['adamw', 'lamb', 'sgd'] as const) {
      const optimizer = createOptimizer({ type, lr: 0.05, weightDecay: 0.1 }, params);
      for (let step = 0; step < 5; step++) {
        const grads = gradientMap(reference, gradientsAt(step));
        const clipped = clipByGlobalNorm(grads, 0.5);
        optimizer.step(clipped.grads);
        tf.dispose([...grads.values(), ...clipped.grads.values()]);
      }
      const state = optimizer.state();
      optimizer.loadState(state);
      tf.dispose(state);
      optimizer.dispose();
      optimizer.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(params);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales gradients above maxNorm down to it, as PyTorch does', () => {
    // ‖[3, 4, 12]‖ = 13 over two tensors.
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) };
    const before = tf.memory().numTensors;
    const { grads: clipped, norm: total } = clipByGlobalNorm(grads, 6.5);
    expect(total).toBeCloseTo(13, 5);
    expect(globalNorm(clipped)).toBeCloseTo(6.5, 5);
    const scale = 6.5 / (13 + 1e-6);
    expectClose(clipped.a as tf.Tensor, [3 * scale, 4 * scale]);
    expectClose(clipped.b as tf.Tensor, [12 * scale]);
    expect(clipped.b?.shape).toEqual([1, 1]);
    tf.dispose(clipped);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(grads);
  });

  it('returns unchanged copies below maxNorm and keeps a Map a Map', () => {
    const grads = new Map([['a', tf.tensor1d([0.3, 0.4])]]);
    const { grads: clipped, norm: total } = clipByGlobalNorm(grads, 1);
    expect(total).toBeCloseTo(0.5, 6);
    expect(clipped).toBeInstanceOf(Map);
    const copy = clipped.get('a') as tf.Tensor;
    expect(copy).not.toBe(grads.get('a'));
    expect(Array.from(copy.dataSync())).toEqual(
      Array.from((grads.get('a') as tf.Tensor).dataSync()),
    );
    tf.dispose([...grads.values(), ...clipped.values()]);
    expect(() => clipByGlobalNorm(new Map(), 0)).toThrow(/^maxNorm:/);
  });

  it('reports a non-finite norm so the step can be skipped', () => {
    const grads = { a: tf.tensor1d([1, Number.NaN]) };
    const { grads: clipped, norm: total } = clipByGlobalNorm(grads, 1);
    expect(allFinite(total)).toBe(false);
    tf.dispose([grads, clipped]);
  });
});

describe('allFinite', () => {
  it('spots NaN and infinities in numbers and tensors without leaking', () => {
    const good = tf.tensor1d([1, -2, 0]);
    const bad = tf.tensor1d([1, Number.POSITIVE_INFINITY]);
    const nan = tf.scalar(Number.NaN);
    const before = tf.memory().numTensors;
    expect(allFinite(good)).toBe(true);
    expect(allFinite(bad)).toBe(false);
    expect(allFinite(nan)).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
    expect(allFinite(1.5)).toBe(true);
    expect(allFinite(Number.NaN)).toBe(false);
    expect(allFinite(Number.NEGATIVE_INFINITY)).toBe(false);
    tf.dispose([good, bad, nan]);
  });
});
