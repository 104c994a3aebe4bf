import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allFinite,
  clipByGlobalNorm,
  createOptimizer,
  globalNorm,
  type NamedVariable,
  type OptimizerConfig,
} from './optimizers.js';
import {
  disposeAll,
  expectClose,
  gradientMap,
  gradientsAt,
  referenceParameter,
  sparkLikeParameters,
  variablesFor,
} from './optimizers.test-support.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
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
