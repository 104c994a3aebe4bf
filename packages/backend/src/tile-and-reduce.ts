/**
 * Two shipped wasm kernels that are slow on shapes a SparK step uses every time:
 * - `Tile`: above rank 4 the C++ kernel costs about 60-80 ns per element (maskAt's
 *   [8,7,1,7,1,1] -> [8,7,32,7,32,1] at 224 px took 25-36 ms). A tile is a broadcast:
 *   x with a size-1 axis before each tiled axis, times ones with the repetitions there
 *   (C++ Multiply with broadcasting: 0.35 ms for the same mask).
 * - `Sum` and `Mean` over axes that are not the innermost: the shipped kernels first
 *   transpose with the backend's Transpose, which is slow when the row count is a
 *   multiple of a large power of two (a dense layer's bias gradient, [25088, 128] summed
 *   over rows, took 30 ms). Here a contiguous block of axes is average-pooled by XNNPACK
 *   (0.5 ms for that bias gradient) when the kept inner size is small enough for it
 *   (MAX_POOLED_CHANNELS); other axis sets are transposed by
 *   `WasmOps.transpose` (padded against cache aliasing) before the shipped kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type {
  KernelConfig,
  KernelFunc,
  MeanAttrs,
  SumAttrs,
  TensorInfo,
  TileAttrs,
} from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { size, wasmKernel, withOps } from './wasm-ops.js';

/** XNNPACK's binary operators take at most 6 dimensions. */
const MAX_BROADCAST_RANK = 6;
/**
 * XNNPACK's average pooling (tfjs-backend-wasm 4.22) writes past its buffers with about
 * 16,000 channels or more and a window of 8 or more (a mean image: [16, 128*128] over
 * rows broke the heap; 16,000 channels did not); it is used only up to half of that.
 */
const MAX_POOLED_CHANNELS = 8192;

export function tile(args: {
  inputs: { x: TensorInfo };
  backend: BackendWasm;
  attrs: TileAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const reps = attrs.reps;
  const outShape = x.shape.map((d, i) => d * (reps[i] as number));
  // Broadcast form: data axes (from x) and repetition axes (from the ones), merged
  // while consecutive axes are of the same kind.
  const dataShape: number[] = [];
  const onesShape: number[] = [];
  let last: 'data' | 'reps' | undefined;
  const push = (kind: 'data' | 'reps', extent: number) => {
    if (extent === 1) return;
    if (kind === last) {
      const i = dataShape.length - 1;
      if (kind === 'data') dataShape[i] = (dataShape[i] as number) * extent;
      else onesShape[i] = (onesShape[i] as number) * extent;
    } else {
      dataShape.push(kind === 'data' ? extent : 1);
      onesShape.push(kind === 'reps' ? extent : 1);
      last = kind;
    }
  };
  x.shape.forEach((d, i) => {
    push('reps', reps[i] as number);
    push('data', d);
  });
  if (
    x.dtype !== 'float32' ||
    x.shape.length !== reps.length ||
    dataShape.length > MAX_BROADCAST_RANK ||
    size(x.shape) === 0
  ) {
    return wasmKernel(tf.Tile)(args as never) as TensorInfo;
  }
  return withOps(backend, (ops) => {
    if (!onesShape.some((r) => r > 1)) return ops.result(x, outShape);
    const ones = ops.output(onesShape);
    backend.typedArrayFromHeap(ones).fill(1);
    const out = ops.run('Multiply', { a: ops.reshape(x, dataShape), b: ones });
    return ops.result(out, outShape);
  });
}

/**
 * Sum or Mean over axes that are not the innermost. A contiguous block of reduced axes
 * with kept axes after it is XNNPACK average pooling over one window: x as
 * [before, block, 1, after] pooled with a [block, 1] window (times the block's size for
 * a sum): [8,224,224,8] over N, H, W took 0.5 ms this way, 5 ms through the shipped
 * kernel. Other axis sets are transposed innermost by our transpose first.
 */
function reduceOuter(name: 'Sum' | 'Mean'): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as {
      inputs: { x: TensorInfo };
      backend: BackendWasm;
      attrs: SumAttrs | MeanAttrs;
    };
    const { x } = inputs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((p, q) => p - q);
    const perm = tf.backend_util.getAxesPermutation(axes, rank);
    if (perm === null || x.dtype === 'string' || size(x.shape) === 0) {
      return wasmKernel(name)(args);
    }
    const keptShape = x.shape.filter((_, i) => !axes.includes(i));
    const outShape = attrs.keepDims
      ? tf.backend_util.expandShapeToKeepDim(keptShape, axes)
      : keptShape;
    const first = axes[0] as number;
    const last = axes[axes.length - 1] as number;
    const contiguous = last - first + 1 === axes.length;
    return withOps(backend, (ops) => {
      const channels = size(x.shape.slice(last + 1));
      if (contiguous && x.dtype === 'float32' && channels <= MAX_POOLED_CHANNELS) {
        const block = size(x.shape.slice(first, last + 1));
        const view = ops.reshape(x, [size(x.shape.slice(0, first)), block, 1, channels]);
        let out = ops.run(
          'AvgPool',
          { x: view },
          { filterSize: [block, 1], strides: [1, 1], pad: 'valid' },
        );
        if (name === 'Sum') {
          const count = ops.output([]);
          backend.typedArrayFromHeap(count).set([block]);
          out = ops.run('Multiply', { a: out, b: count });
        }
        return ops.result(out, outShape);
      }
      const moved = ops.transpose(x, perm);
      const inner = tf.backend_util.getInnerMostAxes(axes.length, rank);
      const out = ops.run(name, { x: moved }, { axis: inner, keepDims: false });
      return ops.result(out, outShape);
    });
  };
}

export const tileConfig: KernelConfig = {
  kernelName: tf.Tile,
  backendName: 'wasm',
  kernelFunc: tile as unknown as KernelFunc,
};

export const sumConfig: KernelConfig = {
  kernelName: tf.Sum,
  backendName: 'wasm',
  kernelFunc: reduceOuter('Sum'),
};

export const meanConfig: KernelConfig = {
  kernelName: tf.Mean,
  backendName: 'wasm',
  kernelFunc: reduceOuter('Mean'),
};
