/**
 * The two gradients of a depthwise convolution on the wasm backend (which ships neither),
 * as forward XNNPACK depthwise convolutions. NHWC. Supported: any kernel size, any
 * channel multiplier, padding 'same' / 'valid' / a number / explicit, and either a stride
 * > 1 or a dilation > 1 (tfjs never allows both); ConvNeXt uses 7x7, stride 1, 'same',
 * multiplier 1.
 *
 * - `DepthwiseConv2dNativeBackpropInput`: dy (zero-upsampled when the stride is > 1)
 *   convolved with the spatially flipped filter; with a multiplier m > 1 the m outputs of
 *   each channel are then summed.
 * - `DepthwiseConv2dNativeBackpropFilter`: the batch is folded into the channels: x as
 *   [1, H, W, C*N] convolved with dy as a filter [OH, OW, C*N, m] (stride = the forward
 *   dilation, dilation = the forward stride) gives [kh, kw, C*N*m]; summed over N.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { fitAxis, withOps } from './wasm-ops.js';

type Shape4 = [number, number, number, number];

function checkGeometry(kernel: string, info: tf.backend_util.Conv2DInfo): void {
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  const dilated = info.dilationHeight > 1 || info.dilationWidth > 1;
  if (strided && dilated) {
    throw new Error(
      `${kernel} on wasm (masksweep composite): stride ${info.strideHeight}x${info.strideWidth} ` +
        `together with dilation ${info.dilationHeight}x${info.dilationWidth} is not supported ` +
        '(use one or the other)',
    );
  }
}

/**
 * The forward convolution's geometry both gradients share, with the checks: strides and
 * dilations not together, and dy of the forward output's size.
 */
function geometry(
  kernel: string,
  inputShape: Shape4,
  filterShape: Shape4,
  dy: TensorInfo,
  attrs: Pick<
    DepthwiseConv2dNativeBackpropInputAttrs,
    'strides' | 'dilations' | 'pad' | 'dimRoundingMode'
  >,
) {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  checkGeometry(kernel, info);
  const [, oh, ow] = dy.shape as Shape4;
  if (oh !== info.outHeight || ow !== info.outWidth) {
    throw new Error(
      `${kernel}: dy ${dy.shape} does not match input ${inputShape} with filter ${filterShape}`,
    );
  }
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  return { info, oh, ow, sh, sw, dh, dw };
}

export function depthwiseBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape;
  const filterShape = filter.shape as Shape4;
  const { info, oh, ow, sh, sw, dh, dw } = geometry(
    'DepthwiseConv2dNativeBackpropInput',
    inputShape,
    filterShape,
    dy,
    attrs,
  );
  const [n, h, w, c] = inputShape;
  const [kh, kw, , m] = filterShape;
  const extentH = (kh - 1) * dh + 1;
  const extentW = (kw - 1) * dw + 1;
  return withOps(backend, (ops) => {
    const up = ops.zeroUpsample(dy, [sh, sw]); // [n, oh*sh, ow*sw, c*m]
    const rows = fitAxis(oh * sh, extentH - 1 - info.padInfo.top, extentH, h);
    const cols = fitAxis(ow * sw, extentW - 1 - info.padInfo.left, extentW, w);
    const upc = ops.cropFit(up, rows, cols);
    const flipped = ops.reshape(ops.flipLeading(filter, 2), [kh, kw, c * m, 1]);
    const out = ops.depthwise(upc, flipped, [1, 1], [dh, dw], {
      top: rows.before,
      bottom: rows.after,
      left: cols.before,
      right: cols.after,
    }); // [n, h, w, c*m]
    if (m === 1) return ops.result(out);
    return ops.result(ops.sumLast(ops.reshape(out, [n, h, w, c, m])));
  });
}

export function depthwiseBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape;
  const xShape = x.shape as Shape4;
  const { info, oh, ow, sh, sw, dh, dw } = geometry(
    'DepthwiseConv2dNativeBackpropFilter',
    xShape,
    filterShape,
    dy,
    attrs,
  );
  const [n, h, w, c] = xShape;
  const [kh, kw, , m] = filterShape;
  // Output tap (i, j) reads x at i*dh + oh*sh - top: a convolution with stride dh over
  // "filter" taps oh spaced sh apart.
  const rows = fitAxis(h, info.padInfo.top, (oh - 1) * sh + 1, kh, dh);
  const cols = fitAxis(w, info.padInfo.left, (ow - 1) * sw + 1, kw, dw);
  return withOps(backend, (ops) => {
    const xc = ops.cropFit(x, rows, cols);
    const xt = ops.reshape(ops.transpose(xc, [1, 2, 3, 0]), [1, rows.length, cols.length, c * n]);
    const dy5 = ops.reshape(dy, [n, oh, ow, c, m]);
    const dyt = ops.reshape(ops.transpose(dy5, [1, 2, 3, 0, 4]), [oh, ow, c * n, m]);
    const out = ops.depthwise(xt, dyt, [dh, dw], [sh, sw], {
      top: rows.before,
      bottom: rows.after,
      left: cols.before,
      right: cols.after,
    }); // [1, kh, kw, c*n*m], channels ordered (c, n, q)
    if (n === 1) return ops.result(out, [kh, kw, c, m]);
    const nLast =
      m === 1
        ? ops.reshape(out, [kh, kw, c, n])
        : ops.transpose(ops.reshape(out, [kh, kw, c, n, m]), [0, 1, 2, 4, 3]);
    return ops.result(ops.sumLast(nLast), [kh, kw, c, m]);
  });
}

export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as KernelFunc,
};

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as KernelFunc,
};
