/**
 * Element-wise Add, Sub, Multiply, RealDiv and SquaredDifference on the wasm backend when
 * one operand is a small vector broadcast along the leading axes (a bias, LayerNorm's or
 * BatchNorm's gamma / beta / statistics over C channels): the shipped kernels then run
 * their inner loop C elements at a time, 10x slower than on equal shapes for C = 8
 * ([8,224,224,8] * [8]: 5.6 ms, equal shapes 0.5 ms). Viewing the big operand as
 * [R / k, k * C] and repeating the vector k times (k * C about 1024) gives the same
 * result at equal-shape speed (0.5 ms). Anything else goes to the shipped kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { size, wasmKernel, withOps } from './wasm-ops.js';

/** Width of the repeated vector: measured best between 256 and 4096. */
const TARGET_WIDTH = 1024;
/** At or above this many elements per row the shipped kernel is already fast. */
const MAX_VECTOR = 256;

export const WIDENED_BINARY_KERNELS = [
  tf.Add,
  tf.Sub,
  tf.Multiply,
  tf.RealDiv,
  tf.SquaredDifference,
] as const;

function widened(name: string): KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as {
      inputs: { a: TensorInfo; b: TensorInfo };
      backend: BackendWasm;
    };
    const { a, b } = inputs;
    const plan = planWidening(a, b);
    if (!plan) return wasmKernel(name)(args);
    const { big, small, smallFirst, outShape, rows, width, repeat } = plan;
    return withOps(backend, (ops) => {
      const wide = ops.output([width]);
      const heap = backend.typedArrayFromHeap(wide);
      heap.set(backend.typedArrayFromHeap(small));
      const c = width / repeat;
      for (let filled = c; filled < width; filled *= 2) {
        heap.copyWithin(filled, 0, Math.min(filled, width - filled));
      }
      const view = ops.reshape(big, [rows / repeat, width]);
      const out = ops.run(name, smallFirst ? { a: wide, b: view } : { a: view, b: wide });
      return ops.result(out, outShape);
    });
  };
}

interface Widening {
  big: TensorInfo;
  small: TensorInfo;
  smallFirst: boolean;
  outShape: number[];
  rows: number;
  width: number;
  repeat: number;
}

/** How to widen `a op b`, or undefined when the shipped kernel should run as is. */
export function planWidening(a: TensorInfo, b: TensorInfo): Widening | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  let outShape: number[];
  try {
    outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  } catch {
    return undefined; // the shipped kernel gives tfjs's own error
  }
  const sameAsOut = (t: TensorInfo) =>
    t.shape.length === outShape.length && t.shape.every((d, i) => d === outShape[i]);
  const smallFirst = !sameAsOut(a);
  const [big, small] = smallFirst ? [b, a] : [a, b];
  if (!sameAsOut(big)) return undefined;
  const c = size(small.shape);
  if (c <= 1 || c >= MAX_VECTOR) return undefined;
  // The vector must broadcast along leading axes only: its shape without leading 1s is
  // the output's trailing shape.
  const firstReal = small.shape.findIndex((d) => d !== 1);
  const tail = small.shape.slice(firstReal);
  const outTail = outShape.slice(outShape.length - tail.length);
  if (tail.length > outShape.length || tail.some((d, i) => d !== outTail[i])) return undefined;
  const rows = size(outShape) / c;
  let repeat = 1;
  while (repeat * 2 * c <= TARGET_WIDTH && rows % (repeat * 2) === 0) repeat *= 2;
  if (repeat === 1) return undefined;
  return { big, small, smallFirst, outShape, rows, width: repeat * c, repeat };
}

export const binaryBroadcastConfigs: KernelConfig[] = WIDENED_BINARY_KERNELS.map((name) => ({
  kernelName: name,
  backendName: 'wasm',
  kernelFunc: widened(name),
}));
