/**
 * The gradient of every op a ConvNeXt / SparK training step uses, through `tf.grads`,
 * on wasm (with our kernels) against the cpu backend; plus a small whole step.
 */
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
import { useWasmBackend } from './wasm.test-support.js';

const TOLERANCE = 1e-4;

function t(shape: number[], seed: number, scale = 1): tf.Tensor {
  const values = seededValues(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) * scale;
  return tf.tensor(values, shape);
}

useWasmBackend();

/**
 * Gradients of sum(f(inputs) * r) with respect to every input, on wasm against cpu;
 * checks that no tensor or wasm buffer leaks.
 */
async function gradError(
  shapes: number[][],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<number> {
  const run = () => {
    const xs = shapes.map((s, i) => t(s, i + 1));
    const y = f(...xs);
    const r = t(y.shape, 99);
    const loss = (...ins: tf.Tensor[]) => tf.sum(tf.mul(f(...ins), r));
    return [y, ...tf.grads(loss)(xs)];
  };
  const wasm = tf.findBackend('wasm') as tf.KernelBackend;
  const tensors = tf.memory().numTensors;
  const buffers = wasm.numDataIds();
  const { error } = await compareBackends(run);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(wasm.numDataIds()).toBe(buffers);
  return error;
}

const layerNorm = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))), g), b);
};
const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
const conv = (s: number, p: 'same' | 'valid') => (x: tf.Tensor, f: tf.Tensor) =>
  tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, s, p);

const OPS: [string, number[][], (...xs: tf.Tensor[]) => tf.Tensor][] = [
  [
    'conv2d stem 4x4/s4',
    [
      [2, 32, 32, 1],
      [4, 4, 1, 16],
    ],
    conv(4, 'valid'),
  ],
  [
    'conv2d downsample 2x2/s2',
    [
      [2, 8, 8, 16],
      [2, 2, 16, 32],
    ],
    conv(2, 'valid'),
  ],
  [
    "conv2d 3x3 'same'",
    [
      [2, 8, 8, 8],
      [3, 3, 8, 8],
    ],
    conv(1, 'same'),
  ],
  [
    'conv2d 1x1',
    [
      [2, 8, 8, 16],
      [1, 1, 16, 8],
    ],
    conv(1, 'valid'),
  ],
  [
    "depthwiseConv2d 7x7 'same'",
    [
      [2, 16, 16, 8],
      [7, 7, 8, 1],
    ],
    (x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
  ],
  [
    "conv2dTranspose k4/s2 'same'",
    [
      [2, 8, 8, 16],
      [4, 4, 8, 16],
    ],
    (x, f) => tf.conv2dTranspose(x as tf.Tensor4D, f as tf.Tensor4D, [2, 16, 16, 8], 2, 'same'),
  ],
  [
    'matMul [B*H*W, C] . W',
    [
      [128, 16],
      [16, 64],
    ],
    (x, w) => tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
  ],
  // Only x's gradient: see the test below for W's.
  [
    'matMul [B, HW, C] . W (gradient of x)',
    [[2, 64, 16]],
    (x) => tf.matMul(x as tf.Tensor, t([16, 24], 7)),
  ],
  [
    'batchMatMul [B, HW, C] . [B, HW, C]^T',
    [
      [2, 16, 8],
      [2, 16, 8],
    ],
    (a, b) => tf.matMul(a, b, false, true),
  ],
  [
    'LayerNorm from moments',
    [[2, 4, 4, 16], [16], [16]],
    (x, g, b) => layerNorm(x as tf.Tensor, g as tf.Tensor, b as tf.Tensor),
  ],
  ['GELU via erf', [[4, 64]], (x) => gelu(x as tf.Tensor)],
  [
    'resizeNearestNeighbor x4, batch 1',
    [[1, 4, 4, 3]],
    (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [16, 16]),
  ],
  ['tile 4-D', [[2, 4, 4, 1]], (x) => tf.tile(x as tf.Tensor, [1, 2, 2, 3])],
  [
    'gather of tokens (UnsortedSegmentSum)',
    [[2, 16, 32]],
    (x) => tf.gather(x as tf.Tensor, tf.tensor1d([3, 0, 7, 7, 15], 'int32'), 1),
  ],
  [
    "maxPool 3x3/s2 'same' on negative inputs (ResNet stem)",
    [[2, 9, 9, 4]],
    (x) => tf.maxPool(tf.sub(x as tf.Tensor, 2) as tf.Tensor4D, 3, 2, 'same'),
  ],
  [
    'maxPool 2x2/s2 after relu',
    [[2, 8, 8, 4]],
    (x) => tf.maxPool(tf.relu(x as tf.Tensor4D), 2, 2, 'valid'),
  ],
  [
    'masked MSE (sub, square, mean)',
    [
      [2, 8, 8, 1],
      [2, 8, 8, 1],
    ],
    (p, q) => tf.mean(tf.square(tf.sub(p as tf.Tensor, q as tf.Tensor)), [1, 2, 3]),
  ],
];

describe('gradients on wasm match cpu', () => {
  it.each(OPS)('%s', async (_label, shapes, f) => {
    expect(await gradError(shapes, f)).toBeLessThan(TOLERANCE);
  });

  it('tfjs-core cannot differentiate a 2-D W broadcast against [B, HW, C] (on any backend)', async () => {
    // BatchMatMul's gradient does not sum over the broadcast batch: reshape to [B*HW, C].
    const f = () =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.matMul(x, w)))([
        t([2, 4, 3], 1),
        t([3, 5], 2),
      ]);
    await expect(onBackend('cpu', f)).rejects.toThrow(/does not match the shape/);
    await expect(onBackend('wasm', f)).rejects.toThrow(/does not match the shape/);
  });

  it('resizeNearestNeighbor x4 with batch > 1 equals the 4x4 block sums (cpu is wrong here)', async () => {
    const x = () => t([3, 4, 4, 2], 1);
    const dy = () => t([3, 16, 16, 2], 2);
    const [wasmGrad] = (await onBackend('wasm', () => [
      tf.grad((v: tf.Tensor) =>
        tf.sum(tf.mul(tf.image.resizeNearestNeighbor(v as tf.Tensor4D, [16, 16]), dy())),
      )(x()),
    ])) as [HostTensor];
    const [blockSums] = (await onBackend('wasm', () => [
      tf.sum(tf.reshape(dy(), [3, 4, 4, 4, 4, 2]), [2, 4]),
    ])) as [HostTensor];
    expect(relativeError(wasmGrad.values, blockSums.values)).toBeLessThan(TOLERANCE);
  });
});

/** A ConvNeXt block (with the SparK mask applied) between a stem, a downsampling and a decoder step. */
function sparkStep(...ps: tf.Tensor[]): tf.Tensor {
  const [img, mask, stemW, stemB, dwW, dwB, lnG, lnB, w1, b1, w2, b2, gamma, downW, upW, headW] =
    ps as tf.Tensor[] as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor,
      tf.Tensor4D,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor2D,
      tf.Tensor,
      tf.Tensor2D,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
    ];
  const [batch, size] = img.shape;
  const cells = mask.shape[1];
  const active = tf.reshape(
    tf.tile(tf.reshape(mask, [batch, cells, 1, cells, 1, 1]), [
      1,
      1,
      size / 4 / cells,
      1,
      size / 4 / cells,
      1,
    ]),
    [batch, size / 4, size / 4, 1],
  );
  const x0 = tf.mul(tf.add(tf.conv2d(img, stemW, 4, 'valid'), stemB), active) as tf.Tensor4D;
  const c = x0.shape[3];
  const d = tf.mul(tf.add(tf.depthwiseConv2d(x0, dwW, 1, 'same'), dwB), active);
  const rows = tf.reshape(layerNorm(d, lnG, lnB), [-1, c]) as tf.Tensor2D;
  const h = gelu(tf.add(tf.matMul(rows, w1), b1));
  const x1 = tf.add(
    x0,
    tf.mul(tf.reshape(tf.add(tf.matMul(h as tf.Tensor2D, w2), b2), x0.shape), gamma),
  );
  const x2 = tf.conv2d(x1 as tf.Tensor4D, downW, 2, 'valid');
  const up = tf.conv2dTranspose(x2, upW, x1.shape as [number, number, number, number], 2, 'same');
  const pred = tf.conv2d(tf.add(up, x1) as tf.Tensor4D, headW, 1, 'same');
  const target = tf.image.resizeNearestNeighbor(img, [size / 4, size / 4]);
  const hidden = tf.sub(1, active);
  return tf.div(
    tf.sum(tf.mul(tf.square(tf.sub(pred, target)), hidden)),
    tf.add(tf.sum(hidden), 1e-6),
  );
}

describe('a small SparK / ConvNeXt step', () => {
  it('every parameter gradient on wasm matches cpu, without leaks', async () => {
    const shapes = [
      [2, 32, 32, 1],
      [2, 4, 4, 1],
      [4, 4, 1, 16],
      [16],
      [7, 7, 16, 1],
      [16],
      [16],
      [16],
      [16, 64],
      [64],
      [64, 16],
      [16],
      [16],
      [2, 2, 16, 32],
      [4, 4, 16, 32],
      [3, 3, 16, 1],
    ];
    const run = () => {
      const [img, noise, ...params] = shapes.map((s, i) => t(s, i + 1, i < 2 ? 1 : 0.3));
      const mask = tf.cast(tf.greater(noise as tf.Tensor, 0), 'float32'); // 1 = visible
      const loss = (...ps: tf.Tensor[]) => sparkStep(img as tf.Tensor, mask, ...ps);
      return [loss(...params), ...tf.grads(loss)(params)];
    };
    const wasm = tf.findBackend('wasm') as tf.KernelBackend;
    const tensors = tf.memory().numTensors;
    const buffers = wasm.numDataIds();
    const { errors } = await compareBackends(run);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(wasm.numDataIds()).toBe(buffers);
    expect(Math.max(...errors)).toBeLessThan(TOLERANCE);
  });
});
