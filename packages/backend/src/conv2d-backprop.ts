/**
 * The two gradients of a 2-D convolution on the wasm backend, as forward XNNPACK
 * convolutions or matrix products (docs/training.md#backend). NHWC only; any stride, kernel size
 * and padding ('same', 'valid', a number or explicit pads); no dilation (tfjs's conv2d
 * gradient refuses dilation > 1 anyway).
 *
 * - `Conv2DBackpropFilter`: the input transposed to [Ci, H, W, N] (channels become the
 *   batch) convolved, stride 1 and dilation = the forward stride, with dy transposed to a
 *   filter [OH, OW, N, Co] gives [Ci, kh, kw, Co]; transposed back.
 * - `Conv2DBackpropInput` (also conv2dTranspose's forward): dy convolved with the
 *   spatially flipped, in/out-swapped filter. With a stride s > 1, instead of convolving
 *   a zero-upsampled dy (s*s times the work), one convolution computes the s*s
 *   interleaved phases of dx as channels (sub-pixel convolution; see `subPixel`).
 * - Both: when the kernel equals the stride and there is no padding (ConvNeXt's 4x4/s4
 *   stem and 2x2/s2 downsampling, and every 1x1 convolution) the patches do not overlap
 *   and each gradient is one matrix product with a transpose, no zero-upsampling.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { matMulComposite } from './batch-matmul.js';
import { fitAxis, type WasmOps, wasmKernel, withOps } from './wasm-ops.js';

type Shape4 = [number, number, number, number];

function requireNHWC(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(
      `${kernel} on wasm (masksweep composite) supports dataFormat 'NHWC' only, got '${dataFormat}'`,
    );
  }
}

export function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  requireNHWC('Conv2DBackpropFilter', attrs.dataFormat);
  const xShape = x.shape as Shape4;
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [n, h, w, ci] = xShape;
  const [, oh, ow, co] = dy.shape as Shape4;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  if (oh !== info.outHeight || ow !== info.outWidth) {
    throw new Error(
      `Conv2DBackpropFilter: dy ${dy.shape} does not match x ${x.shape} with filter ${attrs.filterShape}`,
    );
  }
  return withOps(backend, (ops) => {
    if (isPatchify(info, h, w)) {
      // Non-overlapping patches: dW = patches^T . dy.
      const xc = ops.cropSpatial(x, 0, oh * kh, 0, ow * kw);
      const dy2 = ops.reshape(dy, [n * oh * ow, co]);
      if (kh === 1 && kw === 1) {
        const x2 = ops.reshape(xc, [n * oh * ow, ci]);
        return ops.result(matMulComposite(ops, x2, dy2, true, false), [1, 1, ci, co]);
      }
      const x6 = ops.reshape(xc, [n, oh, kh, ow, kw, ci]);
      const patchesT = ops.reshape(ops.transpose(x6, [2, 4, 5, 0, 1, 3]), [
        kh * kw * ci,
        n * oh * ow,
      ]);
      return ops.result(ops.matMul2d(patchesT, dy2), [kh, kw, ci, co]);
    }
    if (sh === 1 && sw === 1 && co < 8 && co < ci) {
      // The roles swapped: dy [co, oh, ow, n] as the images, x [h, w, n, ci] as the filter
      // gives dW flipped, as [co, kh, kw, ci]. XNNPACK's output tiles are 8 channels wide:
      // with co < 8 the usual form wastes part of each, this one does not (8 -> 4
      // channels at 224 px: 27 ms instead of 32). With co >= 8 the usual form was faster.
      const rows = fitAxis(oh, kh - 1 - top, h, kh);
      const cols = fitAxis(ow, kw - 1 - left, w, kw);
      const dyt = ops.transpose(ops.cropFit(dy, rows, cols), [3, 1, 2, 0]); // [co, oh', ow', n]
      const xt = ops.transpose(x, [1, 2, 0, 3]); // [h, w, n, ci]
      const out = ops.conv2d(dyt, xt, [1, 1], [1, 1], {
        top: rows.before,
        bottom: rows.after,
        left: cols.before,
        right: cols.after,
      }); // [co, kh, kw, ci], reversed in kh and kw
      return ops.result(ops.flipLeading(ops.transpose(out, [1, 2, 3, 0]), 2));
    }
    const rows = fitAxis(h, top, (oh - 1) * sh + 1, kh);
    const cols = fitAxis(w, left, (ow - 1) * sw + 1, kw);
    const xc = ops.cropFit(x, rows, cols);
    const xt = ops.transpose(xc, [3, 1, 2, 0]); // [ci, h, w, n]
    const dyt = ops.transpose(dy, [1, 2, 0, 3]); // [oh, ow, n, co]
    const out = ops.conv2d(xt, dyt, [1, 1], [sh, sw], {
      top: rows.before,
      bottom: rows.after,
      left: cols.before,
      right: cols.after,
    }); // [ci, kh, kw, co]
    return ops.result(ops.transpose(out, [1, 2, 0, 3]));
  });
}

export function conv2DBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  requireNHWC('Conv2DBackpropInput', attrs.dataFormat);
  const inputShape = attrs.inputShape;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [n, h, w, ci] = inputShape;
  const [, oh, ow, co] = dy.shape as Shape4;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  if (oh !== info.outHeight || ow !== info.outWidth) {
    throw new Error(
      `Conv2DBackpropInput: dy ${dy.shape} does not match input ${inputShape} with filter ${filter.shape}`,
    );
  }
  return withOps(backend, (ops) => {
    if (isPatchify(info, h, w)) {
      // Non-overlapping patches: patches = dy . W^T, then put back in place.
      const dy2 = ops.reshape(dy, [n * oh * ow, co]);
      const w2 = ops.reshape(filter, [kh * kw * ci, co]);
      const patches = matMulComposite(ops, dy2, w2, false, true); // [n*oh*ow, kh*kw*ci]
      let dx = patches;
      if (kh > 1 || kw > 1) {
        const p6 = ops.reshape(patches, [n, oh, ow, kh, kw, ci]);
        dx = ops.transpose(p6, [0, 1, 3, 2, 4, 5]);
      }
      dx = ops.reshape(dx, [n, oh * kh, ow * kw, ci]);
      // Rows and columns past the last whole patch ('valid' leftovers) get no gradient.
      dx = ops.pad(dx, [
        [0, 0],
        [0, h - oh * kh],
        [0, w - ow * kw],
        [0, 0],
      ]);
      return ops.result(dx, [n, h, w, ci]);
    }
    if (sh > 1 || sw > 1) return ops.result(subPixel(ops, dy, filter, info, inputShape));
    // Stride 1: a 'full' correlation of dy with the flipped, in/out-swapped filter.
    const rows = fitAxis(oh, kh - 1 - top, kh, h);
    const cols = fitAxis(ow, kw - 1 - left, kw, w);
    const dyc = ops.cropFit(dy, rows, cols);
    const flipped = ops.flipLeading(ops.transpose(filter, [0, 1, 3, 2]), 2); // [kh, kw, co, ci]
    const dx = ops.conv2d(dyc, flipped, [1, 1], [1, 1], {
      top: rows.before,
      bottom: rows.after,
      left: cols.before,
      right: cols.after,
    });
    return ops.result(dx);
  });
}

/**
 * Conv2DBackpropInput with a stride s > 1 without zero-upsampling dy (which would
 * multiply s*s times more zeros than values): input row u = h + top = q*s + r receives
 * dy[q - t] * filter[r + t*s] for t = 0 .. T-1, T = ceil(k / s). So one stride-1
 * convolution of dy with T x T taps and s*s*ci output channels (one group per residue
 * (r_h, r_w), each the flipped sub-filter) gives every residue at once; a depth-to-space
 * transpose interleaves them and a crop drops the `top` / `left` padding rows.
 */
function subPixel(
  ops: WasmOps,
  dy: TensorInfo,
  filter: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  inputShape: Shape4,
): TensorInfo {
  const [n, h, w, ci] = inputShape;
  const [, oh, ow, co] = dy.shape as Shape4;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const th = Math.ceil(kh / sh);
  const tw = Math.ceil(kw / sw);
  // Taps i = t*s + r; zero taps past the filter's end when s does not divide k.
  const padded = ops.pad(filter, [
    [0, th * sh - kh],
    [0, tw * sw - kw],
    [0, 0],
    [0, 0],
  ]);
  const f6 = ops.reshape(padded, [th, sh, tw, sw, ci, co]);
  const grouped = ops.transpose(f6, [0, 2, 5, 1, 3, 4]); // [th, tw, co, sh, sw, ci]
  const subFilters = ops.reshape(ops.flipLeading(grouped, 2), [th, tw, co, sh * sw * ci]);
  const qh = Math.ceil((h + top) / sh);
  const qw = Math.ceil((w + left) / sw);
  const rows = fitAxis(oh, th - 1, th, qh);
  const cols = fitAxis(ow, tw - 1, tw, qw);
  const dyc = ops.cropFit(dy, rows, cols);
  const z = ops.conv2d(dyc, subFilters, [1, 1], [1, 1], {
    top: rows.before,
    bottom: rows.after,
    left: cols.before,
    right: cols.after,
  }); // [n, qh, qw, sh*sw*ci]
  const z6 = ops.reshape(z, [n, qh, qw, sh, sw, ci]);
  const interleaved = ops.reshape(ops.transpose(z6, [0, 1, 3, 2, 4, 5]), [n, qh * sh, qw * sw, ci]);
  return ops.cropSpatial(interleaved, top, h, left, w);
}

/** Kernel = stride, no leading padding and every patch inside the input. */
function isPatchify(info: tf.backend_util.Conv2DInfo, h: number, w: number): boolean {
  return (
    info.filterHeight === info.strideHeight &&
    info.filterWidth === info.strideWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * info.filterHeight <= h &&
    info.outWidth * info.filterWidth <= w
  );
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};

/** The shipped (scalar-loop) kernel, for comparisons in benchmarks. */
export function shippedConv2DBackpropInput(): KernelFunc {
  return wasmKernel(tf.Conv2DBackpropInput);
}
