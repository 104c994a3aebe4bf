/** The optimizer tests' shared parameters, gradients and float32-against-float64 checks. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { NamedVariable } from './optimizers.js';

/** Float32 tensors against float64 arithmetic. */
export function expectClose(actual: tf.Tensor, expected: number[], tolerance = 1e-6): void {
  const values = Array.from(actual.dataSync());
  expect(values).toHaveLength(expected.length);
  values.forEach((value, index) => {
    expect(Math.abs(value - (expected[index] as number))).toBeLessThanOrEqual(tolerance);
  });
}

export function norm(values: readonly number[]): number {
  return Math.sqrt(values.reduce((sum, value) => sum + value * value, 0));
}

/** A parameter as plain numbers: shape decides the decay group like decaysWeight does. */
export interface ReferenceParameter {
  name: string;
  shape: number[];
  values: number[];
  expAvg: number[];
  expAvgSq: number[];
}

export function referenceParameter(
  name: string,
  shape: number[],
  values: number[],
): ReferenceParameter {
  return {
    name,
    shape,
    values: [...values],
    expAvg: values.map(() => 0),
    expAvgSq: values.map(() => 0),
  };
}

/** Variables mirroring the reference parameters; the caller disposes them. */
export function variablesFor(params: ReferenceParameter[]): NamedVariable[] {
  return params.map((param) => ({
    name: param.name,
    variable: tf.variable(tf.tensor(param.values, param.shape)),
  }));
}

export function disposeAll(params: NamedVariable[]): void {
  for (const { variable } of params) variable.dispose();
}

/** Gradients as tensors keyed by parameter name; the caller disposes them. */
export function gradientMap(
  params: ReferenceParameter[],
  grads: number[][],
): Map<string, tf.Tensor> {
  return new Map(
    params.map((param, k) => [param.name, tf.tensor(grads[k] as number[], param.shape)]),
  );
}

/** Three parameters: a decaying kernel, a 1-D bias and a 2-D mask token (never decays). */
export function sparkLikeParameters(): ReferenceParameter[] {
  return [
    referenceParameter('stages.0.pwconv1/kernel', [2, 2], [0.5, -1.0, 1.5, 2.0]),
    referenceParameter('stages.0.pwconv1/bias', [3], [0.1, -0.2, 0.3]),
    referenceParameter('mask_token', [1, 2], [0.02, -0.01]),
  ];
}

/** Fixed, varied gradients per step: large enough to trigger LAMB's global clip at step 0. */
export function gradientsAt(step: number): number[][] {
  const scale = step === 0 ? 2 : 0.3;
  return [
    [0.3, -0.1, 0.2, 0.4].map((g, i) => scale * g * (1 + 0.1 * step * (i - 1))),
    [0.05, 0.5, -0.25].map((g, i) => scale * g * (1 - 0.2 * step + 0.05 * i)),
    [-0.7, 0.2].map((g) => scale * g),
  ];
}
