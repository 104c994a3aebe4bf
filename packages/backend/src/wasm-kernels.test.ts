import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  compareBackends,
  type HostTensor,
  onBackend,
  relativeError,
  seededValues,
} from './compare-backends.js';
import {
  isMasksweepKernel,
  registerWasmKernels,
  WASM_KERNEL_NAMES,
} from './register-wasm-kernels.js';
import { useWasmBackend } from './wasm.test-support.js';

const TOLERANCE = 1e-4;
type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

function t(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    seededValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

useWasmBackend();

/** Compares on wasm vs cpu and checks that neither engine tensors nor wasm buffers leak. */
async function check(fn: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const wasm = tf.findBackend('wasm') as tf.KernelBackend;
  const tensors = tf.memory().numTensors;
  const buffers = wasm.numDataIds();
  const { error } = await compareBackends(fn);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(wasm.numDataIds()).toBe(buffers);
  return error;
}

function outShape(x: Shape4, f: Shape4, stride: number, pad: Pad): Shape4 {
  return tf.backend_util.computeConv2DInfo(x, f, stride, 1, pad as 'same').outShape as Shape4;
}

describe('registration', () => {
  it('installs every kernel on wasm, idempotently', () => {
    registerWasmKernels();
    registerWasmKernels();
    for (const name of WASM_KERNEL_NAMES) expect(isMasksweepKernel(name)).toBe(true);
  });
});

// [label, x, filter, stride, pad]: ConvNeXt's cases first, then every kernel size 1..7
// with strides 1, 2, 4 and the four kinds of padding.
const CONVNEXT_CONVS: [string, Shape4, Shape4, number, Pad][] = [
  ['stem 4x4/s4', [2, 32, 32, 1], [4, 4, 1, 16], 4, 'valid'],
  ['downsample 2x2/s2', [2, 8, 8, 16], [2, 2, 16, 32], 2, 'valid'],
  ["3x3 'same'", [2, 8, 8, 8], [3, 3, 8, 8], 1, 'same'],
  ['1x1', [2, 8, 8, 16], [1, 1, 16, 8], 1, 'valid'],
  ["conv2dTranspose k4/s2 'same' (16 -> 8 forward)", [2, 16, 16, 8], [4, 4, 8, 16], 2, 'same'],
  // Fewer than 8 output channels, fewer than input channels: the swapped filter gradient.
  ["decoder 3x3 'same' 8 -> 4", [2, 16, 16, 8], [3, 3, 8, 4], 1, 'same'],
  [
    '5x5 explicit pads 6 -> 3',
    [2, 11, 10, 6],
    [5, 5, 6, 3],
    1,
    [
      [0, 0],
      [2, 0],
      [1, 3],
      [0, 0],
    ],
  ],
  ["7x7 'valid' 6 -> 2", [1, 9, 12, 6], [7, 7, 6, 2], 1, 'valid'],
];
const PADS: Pad[] = [
  'same',
  'valid',
  1,
  [
    [0, 0],
    [2, 0],
    [1, 3],
    [0, 0],
  ],
];
const GRID: [string, Shape4, Shape4, number, Pad][] = [];
for (let k = 1; k <= 7; k++) {
  for (const s of [1, 2, 4]) {
    for (const pad of PADS) {
      GRID.push([`k${k} s${s} pad ${JSON.stringify(pad)}`, [2, 11, 10, 3], [k, k, 3, 4], s, pad]);
    }
  }
}

describe('Conv2DBackpropFilter and Conv2DBackpropInput match cpu', () => {
  it.each(CONVNEXT_CONVS)('%s', async (_label, xs, fs, stride, pad) => {
    const ys = outShape(xs, fs, stride, pad);
    const filterErr = await check(() =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropFilter',
          { x: t(xs, 1), dy: t(ys, 2) },
          { strides: stride, pad, dataFormat: 'NHWC', filterShape: fs },
        ),
    );
    const inputErr = await check(() =>
      tf
        .engine()
        .runKernel(
          'Conv2DBackpropInput',
          { dy: t(ys, 2), filter: t(fs, 3) },
          { strides: stride, pad, dataFormat: 'NHWC', inputShape: xs },
        ),
    );
    expect(filterErr).toBeLessThan(TOLERANCE);
    expect(inputErr).toBeLessThan(TOLERANCE);
  });

  it('every kernel 1..7, stride 1/2/4, padding same/valid/number/explicit', async () => {
    const failures: string[] = [];
    for (const [label, xs, fs, stride, pad] of GRID) {
      const ys = outShape(xs, fs, stride, pad);
      const { error } = await compareBackends(() => {
        const x = t(xs, 4);
        const f = t(fs, 5);
        const dy = t(ys, 6);
        return [
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy },
              { strides: stride, pad, dataFormat: 'NHWC', filterShape: fs },
            ) as tf.Tensor,
          tf
            .engine()
            .runKernel(
              'Conv2DBackpropInput',
              { dy, filter: f },
              { strides: stride, pad, dataFormat: 'NHWC', inputShape: xs },
            ) as tf.Tensor,
        ];
      });
      if (!(error < TOLERANCE)) failures.push(`${label}: ${error}`);
    }
    expect(failures).toEqual([]);
  });

  it('refuses NCHW with a clear message', async () => {
    await expect(
      onBackend('wasm', () =>
        tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: t([1, 2, 4, 4], 1), dy: t([1, 2, 4, 4], 2) },
            { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [1, 1, 2, 2] },
          ),
      ),
    ).rejects.toThrow(/NHWC/);
  });
});

// [label, x, filter [kh, kw, c, multiplier], stride, pad]
const DEPTHWISE: [string, Shape4, Shape4, number, Pad][] = [
  ["ConvNeXt 7x7 'same' 16x16x8", [2, 16, 16, 8], [7, 7, 8, 1], 1, 'same'],
  ["7x7 'same' on 2x2 (last stage)", [2, 2, 2, 16], [7, 7, 16, 1], 1, 'same'],
  ["3x3 'valid'", [2, 9, 8, 4], [3, 3, 4, 1], 1, 'valid'],
  ["3x3 stride 2 'same', multiplier 2", [2, 9, 9, 3], [3, 3, 3, 2], 2, 'same'],
  [
    '5x5 stride 2 explicit pads',
    [1, 10, 9, 3],
    [5, 5, 3, 1],
    2,
    [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  ],
  ['1x1 multiplier 3, batch 1', [1, 5, 5, 2], [1, 1, 2, 3], 1, 'valid'],
];

describe('DepthwiseConv2dNativeBackpropInput and ...BackpropFilter match cpu', () => {
  it.each(DEPTHWISE)('%s', async (_label, xs, fs, stride, pad) => {
    const ys = tf.backend_util.computeConv2DInfo(
      xs,
      fs,
      stride,
      1,
      pad as 'same',
      undefined,
      true,
    ).outShape;
    const attrs = { strides: stride, pad, dilations: 1 };
    const filterErr = await check(() =>
      tf
        .engine()
        .runKernel(
          'DepthwiseConv2dNativeBackpropFilter',
          { x: t(xs, 1), dy: t(ys, 2) },
          { ...attrs, filterShape: fs },
        ),
    );
    const inputErr = await check(() =>
      tf
        .engine()
        .runKernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy: t(ys, 2), filter: t(fs, 3) },
          { ...attrs, inputShape: xs },
        ),
    );
    expect(filterErr).toBeLessThan(TOLERANCE);
    expect(inputErr).toBeLessThan(TOLERANCE);
  });

  it('dilation 2 equals the zero-dilated 5x5 filter (the cpu kernels ignore dilations)', async () => {
    const xs: Shape4 = [2, 9, 9, 3];
    const fs: Shape4 = [3, 3, 3, 1];
    const ys: Shape4 = [2, 5, 5, 3]; // 'valid', effective kernel 5
    const dilated = () => {
      const dy = t(ys, 2);
      return [
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropFilter',
            { x: t(xs, 1), dy },
            { strides: 1, pad: 'valid', dilations: 2, filterShape: fs },
          ) as tf.Tensor,
        tf
          .engine()
          .runKernel(
            'DepthwiseConv2dNativeBackpropInput',
            { dy, filter: t(fs, 3) },
            { strides: 1, pad: 'valid', dilations: 2, inputShape: xs },
          ) as tf.Tensor,
      ];
    };
    const reference = () => {
      const dy = t(ys, 2);
      // The same convolution with the 3x3 taps spread over a 5x5 filter of zeros.
      const f6 = tf.pad(tf.reshape(t(fs, 3), [3, 1, 3, 1, 3, 1]), [
        [0, 0],
        [0, 1],
        [0, 0],
        [0, 1],
        [0, 0],
        [0, 0],
      ]);
      const big = tf.slice(tf.reshape(f6, [6, 6, 3, 1]), [0, 0, 0, 0], [5, 5, 3, 1]);
      const dwBig = tf
        .engine()
        .runKernel(
          'DepthwiseConv2dNativeBackpropFilter',
          { x: t(xs, 1), dy },
          { strides: 1, pad: 'valid', dilations: 1, filterShape: [5, 5, 3, 1] },
        ) as tf.Tensor;
      // Taps (2a, 2b) of the 5x5 gradient are the dilated filter's gradient.
      const padded = tf.pad(dwBig, [
        [0, 1],
        [0, 1],
        [0, 0],
        [0, 0],
      ]);
      const taps = tf.reshape(
        tf.slice(tf.reshape(padded, [3, 2, 3, 2, 3, 1]), 0, [3, 1, 3, 1, 3, 1]),
        fs,
      );
      const dx = tf
        .engine()
        .runKernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy, filter: big },
          { strides: 1, pad: 'valid', dilations: 1, inputShape: xs },
        ) as tf.Tensor;
      return [taps, dx];
    };
    const [gotFilter, gotInput] = (await onBackend('wasm', dilated)) as [HostTensor, HostTensor];
    const [wantFilter, wantInput] = (await onBackend('cpu', reference)) as [HostTensor, HostTensor];
    expect(relativeError(gotFilter.values, wantFilter.values)).toBeLessThan(TOLERANCE);
    expect(relativeError(gotInput.values, wantInput.values)).toBeLessThan(TOLERANCE);
  });
});

// [label, a, b, transposeA, transposeB]
const MATMULS: [string, number[], number[], boolean, boolean][] = [
  ['dense forward [B*H*W, C] . W', [512, 32], [32, 128], false, false],
  ['dense dx = dy . W^T', [512, 128], [32, 128], false, true],
  ['dense dW = x^T . dy', [512, 32], [512, 128], true, false],
  ['dense dW = h^T . dy', [512, 128], [512, 32], true, false],
  ['both transposed', [24, 16], [8, 24], true, true],
  ['[B, HW, C] . W', [4, 64, 16], [16, 24], false, false],
  ['[B, HW, C] . W^T', [4, 64, 16], [24, 16], false, true],
  ['[B, C, HW]^T . W', [4, 16, 64], [16, 24], true, false],
  ['one a against a batch of b', [5, 16], [3, 16, 6], false, false],
  ['one a^T against a batch of b^T', [16, 5], [3, 6, 16], true, true],
  ['batch . batch (attention scores)', [4, 64, 16], [4, 64, 16], false, true],
  ['batch^T . batch', [4, 64, 16], [4, 64, 8], true, false],
  ['rank 4 batches', [2, 3, 5, 8], [2, 3, 8, 6], false, false],
  ['broadcast [2,1] against [1,3] (shipped kernel)', [2, 1, 5, 8], [1, 3, 8, 6], false, false],
];

describe('BatchMatMul matches cpu', () => {
  it.each(MATMULS)('%s', async (_label, as, bs, ta, tb) => {
    const error = await check(() => tf.matMul(t(as, 1), t(bs, 2), ta, tb));
    expect(error).toBeLessThan(TOLERANCE);
  });
});

// [label, x, indices, axis, batchDims]
const GATHERS: [string, number[], number[][] | number[], number, number][] = [
  ['tokens along axis 1 (slices of 32: copied here)', [4, 20, 32], [3, 0, 19, 7, 7], 1, 0],
  ['rows along axis 0', [30, 16], [29, 1, 1, 0], 0, 0],
  [
    'per-sample tokens, batchDims 1',
    [3, 10, 24],
    [
      [1, 2, 9],
      [0, 0, 5],
      [9, 8, 7],
    ],
    1,
    1,
  ],
  ['small slices (shipped kernel)', [4, 10, 3], [2, 4], 1, 0],
];

describe('GatherV2 matches cpu', () => {
  it.each(GATHERS)('%s', async (_label, xs, ids, axis, batchDims) => {
    const error = await check(() =>
      tf.gather(t(xs, 1), tf.tensor(ids as number[], undefined, 'int32'), axis, batchDims),
    );
    expect(error).toBeLessThan(TOLERANCE);
  });

  it('refuses an index out of range, naming it', async () => {
    await expect(
      onBackend('wasm', () => tf.gather(t([4, 20, 32], 1), tf.tensor1d([3, 20], 'int32'), 1)),
    ).rejects.toThrow(/index value 20 is not in \[0, 19\]/);
  });
});

describe('Tile, Sum, Mean and broadcast element-wise ops match cpu', () => {
  it.each([
    ['mask up-sampling, rank 6', [2, 3, 1, 3, 1, 1], [1, 1, 4, 1, 4, 1]],
    ['repeat whole axes', [2, 3, 5], [3, 1, 2]],
    ['nothing repeated', [2, 3], [1, 1]],
    ['rank 7 (shipped kernel)', [2, 1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2, 1]],
  ])('tile: %s', async (_label, xs, reps) => {
    expect(await check(() => tf.tile(t(xs, 1), reps))).toBeLessThan(TOLERANCE);
  });

  it.each([
    ['bias gradient: rows of [512, 32]', [512, 32], [0], false],
    ['BatchNorm statistics: N, H, W of NHWC', [4, 8, 8, 16], [0, 1, 2], true],
    ['middle axes', [3, 4, 5, 6], [1, 2], false],
    ['axes apart (transposed first)', [3, 4, 5, 6], [0, 2], true],
    ['a large bias gradient', [8 * 32 * 32, 8], [0], false],
    ['innermost (shipped kernel)', [3, 4, 5], [2], true],
    // XNNPACK's pooling overruns its buffer here (the heap breaks at the next allocation)
    ['a mean image: N of [16, 128, 128, 1]', [16, 128, 128, 1], [0], true],
  ])('sum and mean: %s', async (_label, xs, axes, keepDims) => {
    const error = await check(() => {
      const x = t(xs, 2);
      return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
    });
    expect(error).toBeLessThan(TOLERANCE);
    // the heap is still sound
    expect(await check(() => tf.tile(t([40, 64, 64, 1], 1), [1, 1, 1, 3]))).toBeLessThan(TOLERANCE);
  });

  it.each([
    ['[N,H,W,C] op [C]', [4, 8, 8, 16], [16]],
    ['[1,1,1,C] op [N,H,W,C]', [1, 1, 1, 16], [4, 8, 8, 16]],
    ['[B*H*W, C] op [1, C]', [256, 8], [1, 8]],
    ['trailing [H, W, C] vector', [2, 4, 4, 3], [4, 4, 3]],
    ['odd row count', [3, 5, 7, 8], [8]],
    ['per-pixel statistics [N,H,W,1] (shipped kernel)', [2, 4, 4, 16], [2, 4, 4, 1]],
    ['equal shapes (shipped kernel)', [2, 4, 4, 16], [2, 4, 4, 16]],
  ])('add, sub, mul, div, squaredDifference: %s', async (_label, as, bs) => {
    const error = await check(() => {
      const a = t(as, 3);
      const b = tf.add(tf.abs(t(bs, 4)), 0.5); // no division by ~0
      return [
        tf.add(a, b),
        tf.sub(a, b),
        tf.sub(b, a),
        tf.mul(a, b),
        tf.div(a, b),
        tf.div(b, tf.add(tf.abs(a), 0.5)),
        tf.squaredDifference(a, b),
      ];
    });
    expect(error).toBeLessThan(TOLERANCE);
  });
});
