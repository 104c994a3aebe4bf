import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOptimizer, decaysWeight } from './optimizers.js';
import {
  disposeAll,
  expectClose,
  gradientMap,
  gradientsAt,
  norm,
  type ReferenceParameter,
  referenceParameter,
  sparkLikeParameters,
  variablesFor,
} from './optimizers.test-support.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

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
