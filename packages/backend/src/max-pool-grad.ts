/**
 * `MaxPoolGrad` on the wasm backend. The shipped kernel (and `MaxPoolWithArgmax`) start
 * each window's running maximum at FLT_MIN, the smallest *positive* float, so a window
 * whose values are all <= 0 sends its whole gradient to its first element. The maximum's
 * position does not change when a constant is added, so the input is shifted to be >= 1
 * first (one `Min` and one `Add`), then the shipped kernel runs. Values closer than
 * float32 resolution after the shift (about 1e-7 of the input's range) count as ties.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { wasmKernel, withOps } from './wasm-ops.js';

export function maxPoolGrad(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: BackendWasm;
  attrs: MaxPoolGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { input } = inputs;
  return withOps(backend, (ops) => {
    const axes = input.shape.map((_, i) => i);
    const min = ops.run('Min', { x: input }, { axis: axes, keepDims: false });
    const lowest = backend.typedArrayFromHeap(min)[0] as number;
    let shifted = input;
    if (!(lowest >= 1)) {
      const offset = ops.output([]);
      backend.typedArrayFromHeap(offset).set([1 - lowest]);
      shifted = ops.run('Add', { a: input, b: offset });
    }
    const dx = wasmKernel(tf.MaxPoolGrad)({
      inputs: { ...inputs, input: shifted },
      backend,
      attrs: attrs as unknown as tf.NamedAttrMap,
    }) as TensorInfo;
    return ops.result(ops.adopt(dx));
  });
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
