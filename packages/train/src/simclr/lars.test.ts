import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLarsOptimizer, LARS_EXCLUDE_PATTERN } from './lars.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Float32 tensors against float64 arithmetic. */
function expectClose(actual: tf.Tensor, expected: number[], tolerance = 1e-6): void {
  const values = Array.from(actual.dataSync());
  expect(values).toHaveLength(expected.length);
  values.forEach((value, i) => {
    expect(Math.abs(value - (expected[i] as number))).toBeLessThanOrEqual(tolerance);
  });
}

function norm(values: readonly number[]): number {
  return Math.sqrt(values.reduce((sum, v) => sum + v * v, 0));
}

/** A kernel (adapted, decayed), a batch-norm gamma (excluded) and an all-zero kernel. */
function parameters() {
  return [
    { name: 'encoder.layer1.0.conv1.kernel', variable: tf.variable(tf.tensor1d([3, 4])) },
    { name: 'encoder.bn1.gamma', variable: tf.variable(tf.tensor1d([1, 2])) },
    { name: 'neck.fc0.kernel', variable: tf.variable(tf.tensor1d([0, 0])) },
  ];
}

function gradients() {
  return new Map([
    ['encoder.layer1.0.conv1.kernel', tf.tensor1d([0.6, 0.8])],
    ['encoder.bn1.gamma', tf.tensor1d([0.5, -0.5])],
    ['neck.fc0.kernel', tf.tensor1d([1, 1])],
  ]);
}

describe('LARS', () => {
  it('excludes batch norms, biases and the shortcut batch norm from decay and adaptation', () => {
    const optimizer = createLarsOptimizer({ lr: 1, weightDecay: 1e-6 }, [
      { name: 'w', variable: tf.variable(tf.zeros([1])) },
    ]);
    for (const name of [
      'encoder.bn1.gamma',
      'neck.bn1.beta',
      'head.fc.bias',
      'encoder.layer2.0.downsample.1.moving_mean',
    ]) {
      expect(LARS_EXCLUDE_PATTERN.test(name)).toBe(true);
      expect(optimizer.decays(name)).toBe(false);
    }
    expect(optimizer.decays('encoder.layer2.0.downsample.0.kernel')).toBe(true);
    expect(optimizer.decays('neck.fc1.kernel')).toBe(true);
    expect(optimizer.config).toMatchObject({ momentum: 0.9, eta: 0.001, eps: 1e-8 });
    optimizer.dispose();
  });

  it('takes two steps worked out by hand', () => {
    const params = parameters();
    const optimizer = createLarsOptimizer({ lr: 0.5, weightDecay: 0.1 }, params);
    const grads = gradients();
    optimizer.step(grads);

    // Kernel: ‖w‖ = 5, ‖g‖ = 1, local_lr = 0.001·5 / (1 + 0.1·5 + 1e-8) = 1/300;
    // d = (g + 0.1·w)·local_lr·lr = [0.9, 1.2] / 600 = [0.0015, 0.002]; buf = d.
    const local1 = (0.001 * 5) / (1 + 0.1 * 5 + 1e-8);
    const d1 = [0.9 * local1 * 0.5, 1.2 * local1 * 0.5];
    expectClose(params[0]?.variable as tf.Variable, [2.9985, 3.998]);
    // Gamma (excluded): d = g·lr = [0.25, -0.25], no decay.
    expectClose(params[1]?.variable as tf.Variable, [0.75, 2.25]);
    // Zero kernel: ‖w‖ = 0, so local_lr = 1 and d = g·lr.
    expectClose(params[2]?.variable as tf.Variable, [-0.5, -0.5]);

    optimizer.step(grads, 0.25);
    // Kernel: w = [2.9985, 3.998], local_lr from its new norm; buf = 0.9·d1 + d2.
    const w1 = [2.9985, 3.998];
    const local2 = (0.001 * norm(w1)) / (1 + 0.1 * norm(w1) + 1e-8);
    const d2 = [(0.6 + 0.1 * 2.9985) * local2 * 0.25, (0.8 + 0.1 * 3.998) * local2 * 0.25];
    expectClose(params[0]?.variable as tf.Variable, [
      2.9985 - (0.9 * (d1[0] as number) + (d2[0] as number)),
      3.998 - (0.9 * (d1[1] as number) + (d2[1] as number)),
    ]);
    // Gamma: buf = 0.9·[0.25, -0.25] + [0.125, -0.125] = [0.35, -0.35].
    expectClose(params[1]?.variable as tf.Variable, [0.4, 2.6]);
    // Former zero kernel: w = [-0.5, -0.5], ‖w‖ = 0.7071, ‖g‖ = 1.4142;
    // local_lr = 0.001·0.7071 / (1.4142 + 0.07071) and g + 0.1·w = [0.95, 0.95].
    const local3 = (0.001 * Math.SQRT1_2) / (Math.SQRT2 + 0.1 * Math.SQRT1_2 + 1e-8);
    const buffer3 = 0.9 * 0.5 + 0.95 * local3 * 0.25;
    expectClose(params[2]?.variable as tf.Variable, [-0.5 - buffer3, -0.5 - buffer3]);
    expect(optimizer.stepCount).toBe(2);
    optimizer.dispose();
    tf.dispose([...grads.values(), ...params.map((p) => p.variable)]);
  });

  it('keeps its momentum in a checkpoint state and resumes identically, without leaks', () => {
    const [first, second] = [parameters(), parameters()];
    const a = createLarsOptimizer({ lr: 0.5, weightDecay: 1e-6 }, first);
    const b = createLarsOptimizer({ lr: 0.5, weightDecay: 1e-6 }, second);
    const grads = gradients();
    a.step(grads);
    const state = a.state();
    expect(Object.keys(state).sort()).toEqual([
      'encoder.bn1.gamma/momentum_buffer',
      'encoder.layer1.0.conv1.kernel/momentum_buffer',
      'neck.fc0.kernel/momentum_buffer',
      'step',
    ]);
    first.forEach(({ variable }, i) => {
      second[i]?.variable.assign(variable);
    });
    b.loadState(state);
    tf.dispose(Object.values(state));
    const before = tf.memory().numTensors;
    a.step(grads);
    b.step(grads);
    expect(tf.memory().numTensors).toBe(before);
    first.forEach(({ variable }, i) => {
      expectClose(second[i]?.variable as tf.Variable, Array.from(variable.dataSync()), 0);
    });
    expect(b.stepCount).toBe(2);
    a.dispose();
    b.dispose();
    tf.dispose([
      ...grads.values(),
      ...first.map((p) => p.variable),
      ...second.map((p) => p.variable),
    ]);
  });

  it('refuses bad settings and unknown or misshapen gradients, changing nothing', () => {
    const params = parameters();
    expect(() => createLarsOptimizer({ lr: 0.1, weightDecay: 0, eta: 0 }, params)).toThrow(
      'eta: must be > 0, got 0',
    );
    expect(() => createLarsOptimizer({ lr: -1, weightDecay: 0 }, params)).toThrow(
      'lr: must be >= 0, got -1',
    );
    const optimizer = createLarsOptimizer({ lr: 0.1, weightDecay: 0 }, params);
    const before = tf.memory().numTensors;
    const unknown = new Map([['nope', tf.tensor1d([1, 1])]]);
    expect(() => optimizer.step(unknown)).toThrow('grads: no parameter is named nope');
    const misshapen = new Map([['encoder.bn1.gamma', tf.tensor1d([1, 1, 1])]]);
    expect(() => optimizer.step(misshapen)).toThrow(
      'grads: encoder.bn1.gamma has shape [3], its parameter [2]',
    );
    tf.dispose([...unknown.values(), ...misshapen.values()]);
    expect(tf.memory().numTensors).toBe(before);
    expectClose(params[1]?.variable as tf.Variable, [1, 2]);
    optimizer.dispose();
  });
});
