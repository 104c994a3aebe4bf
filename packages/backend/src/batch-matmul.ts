/**
 * `BatchMatMul` on the wasm backend. The shipped kernel uses XNNPACK only when neither
 * operand is transposed and both batches are 1; everything else (a dense layer's dx = dy.Wᵀ
 * and dW = xᵀ.dy, attention-style batched products) falls to a scalar loop 10-35x slower.
 * Here every case is brought to that fast case:
 * - transposes are materialised with the C++ `Transpose` kernel, choosing between
 *   a.b and (bᵀ.aᵀ)ᵀ whichever moves fewer elements;
 * - a batch of `a` against one `b` folds the batch into the rows of `a` (a reshape);
 * - one `a` against a batch of `b` puts the batch of `b` side by side in its columns;
 * - a batch against a batch of the same size runs one fast product per item.
 * Broadcasting other than "one side has batch 1" goes to the shipped kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { BatchMatMulAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { size, type WasmOps, wasmKernel, withOps } from './wasm-ops.js';

/**
 * op(a) . op(b) for 2-D a and b, where op transposes when the flag is set: [M, N].
 * Intermediates belong to `ops`.
 */
export function matMulComposite(
  ops: WasmOps,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const [a0, a1] = a.shape as [number, number];
  const [b0, b1] = b.shape as [number, number];
  const [m, k] = transposeA ? [a1, a0] : [a0, a1];
  const n = transposeB ? b0 : b1;
  // Elements moved by the transposes, plus XNNPACK's packing of the right-hand operand,
  // which measured about 3x a transpose per element (2048x128: 0.5 ms vs 0.14 ms).
  const PACK = 3;
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACK * k * n;
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + m * n + PACK * k * m;
  if (direct <= swapped) {
    const left = transposeA ? ops.transpose(a, [1, 0]) : a;
    const right = transposeB ? ops.transpose(b, [1, 0]) : b;
    return ops.matMul2d(left, right);
  }
  // (op(b)ᵀ . op(a)ᵀ)ᵀ: op(b)ᵀ is b itself when transposeB, op(a)ᵀ is a when transposeA.
  const left = transposeB ? b : ops.transpose(b, [1, 0]);
  const right = transposeA ? a : ops.transpose(a, [1, 0]);
  return ops.transpose(ops.matMul2d(left, right), [1, 0]);
}

export function batchMatMul(args: {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: BackendWasm;
  attrs: BatchMatMulAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    (batchA !== 1 && batchB !== 1 && !sameOuter)
  ) {
    return wasmKernel(tf.BatchMatMul)(args as never) as TensorInfo;
  }
  const aR = a.shape.length;
  const bR = b.shape.length;
  const [a1, a2] = [a.shape[aR - 2] as number, a.shape[aR - 1] as number];
  const [b1, b2] = [b.shape[bR - 2] as number, b.shape[bR - 1] as number];
  const [m, k] = transposeA ? [a2, a1] : [a1, a2];
  const [k2, n] = transposeB ? [b2, b1] : [b1, b2];
  if (k !== k2) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${k2}) of Tensors with shapes ${a.shape} and ` +
        `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB), m, n];
  return withOps(backend, (ops) => {
    const a3 = ops.reshape(a, [batchA, a1, a2]);
    const b3 = ops.reshape(b, [batchB, b1, b2]);
    if (batchA === 1 && batchB === 1) {
      const out = matMulComposite(
        ops,
        ops.reshape(a3, [a1, a2]),
        ops.reshape(b3, [b1, b2]),
        transposeA,
        transposeB,
      );
      return ops.result(out, outShape);
    }
    if (batchB === 1) {
      // Every item of a against the same b: the batch becomes rows.
      const rows = transposeA ? ops.transpose(a3, [0, 2, 1]) : a3;
      const out = matMulComposite(
        ops,
        ops.reshape(rows, [batchA * m, k]),
        ops.reshape(b3, [b1, b2]),
        false,
        transposeB,
      );
      return ops.result(out, outShape);
    }
    if (batchA === 1) {
      // One a against every item of b: b's items side by side as columns [k, batchB * n].
      const cols = ops.transpose(b3, transposeB ? [2, 0, 1] : [1, 0, 2]);
      const out = matMulComposite(
        ops,
        ops.reshape(a3, [a1, a2]),
        ops.reshape(cols, [k, batchB * n]),
        transposeA,
        false,
      ); // [m, batchB * n]
      const items = ops.transpose(ops.reshape(out, [m, batchB, n]), [1, 0, 2]);
      return ops.result(items, outShape);
    }
    // Batch against batch: one fast product per item, copied into place.
    const left = transposeA ? ops.transpose(a3, [0, 2, 1]) : a3; // [batch, m, k]
    const right = transposeB ? ops.transpose(b3, [0, 2, 1]) : b3; // [batch, k, n]
    const out = ops.output([batchA, m, n]);
    for (let i = 0; i < batchA; i++) {
      ops.scoped(() => {
        const product = ops.matMul2d(ops.item(left, i), ops.item(right, i));
        ops.copyInto(product, out, i * m * n);
      });
    }
    return ops.result(out, outShape);
  });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as KernelFunc,
};
