/**
 * Milliseconds per call of the training kernels masksweep registers for the `wasm`
 * backend, against the same kernel on the pure JavaScript `cpu` backend and, where the
 * wasm backend ships one, against the shipped wasm kernel; at ConvNeXt sizes (batch 8,
 * 64 px input, widths 32, 64, 128, 256), plus a whole ConvNeXt block forward + backward.
 * Also the shipped kernels replaced for speed (Sum, Mean, broadcast element-wise ops, Tile).
 * Median of the timed calls after one or two warm-up calls; a kernel whose timed calls
 * pass 10 s is timed only 3 times.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend, registerWasmKernels, unregisterWasmKernels } from '@masksweep/backend';
import type { Benchmark } from './benchmark.js';
import { median, peakRssMiB } from './measure.js';

const BATCH = 8;
const IMAGE = 64;
const WIDTHS = [32, 64, 128, 256];

type Outputs = tf.Tensor | tf.Tensor[];
interface Case {
  name: string;
  kernel: string;
  /** Whether the wasm backend ships this kernel (so its own version can be timed). */
  shipped: boolean;
  /** Builds the inputs on the active backend; returns the call to time. */
  setup(): { run: () => Outputs; dispose: () => void };
}

/** Deterministic values in [-1, 1), the same on every backend. */
function values(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function tensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const v = values(shape, seed);
  if (scale !== 1) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * scale;
  return tf.tensor(v, shape);
}

type Pad = 'same' | 'valid';
type Shape4 = [number, number, number, number];

function convCases(
  label: string,
  x: Shape4,
  filter: Shape4,
  stride: number,
  pad: Pad,
  which: ('filter' | 'input')[] = ['filter', 'input'],
): Case[] {
  const out: Case[] = [];
  const outShape = (): Shape4 => {
    const t = tf.conv2d(tf.zeros(x) as tf.Tensor4D, tf.zeros(filter) as tf.Tensor4D, stride, pad);
    const shape = t.shape as Shape4;
    t.dispose();
    return shape;
  };
  if (which.includes('filter')) {
    out.push({
      name: label,
      kernel: 'Conv2DBackpropFilter',
      shipped: false,
      setup() {
        const xt = tensor(x, 1);
        const dy = tensor(outShape(), 2);
        const attrs = { strides: stride, pad, dataFormat: 'NHWC', filterShape: filter };
        return {
          run: () =>
            tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy }, attrs) as tf.Tensor,
          dispose: () => tf.dispose([xt, dy]),
        };
      },
    });
  }
  if (which.includes('input')) {
    out.push({
      name: label,
      kernel: 'Conv2DBackpropInput',
      shipped: true,
      setup() {
        const f = tensor(filter, 3, 0.1);
        const dy = tensor(outShape(), 2);
        const attrs = { strides: stride, pad, dataFormat: 'NHWC', inputShape: x };
        return {
          run: () =>
            tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, attrs) as tf.Tensor,
          dispose: () => tf.dispose([f, dy]),
        };
      },
    });
  }
  return out;
}

function depthwiseCases(size: number, channels: number): Case[] {
  const x: Shape4 = [BATCH, size, size, channels];
  const filter: Shape4 = [7, 7, channels, 1];
  const label = `depthwise 7x7 'same' ${size}x${size}x${channels}`;
  const attrs = { strides: 1, pad: 'same', dilations: 1 };
  return [
    {
      name: label,
      kernel: 'DepthwiseConv2dNative',
      shipped: true,
      setup() {
        const xt = tensor(x, 1);
        const f = tensor(filter, 3, 0.1);
        return {
          run: () => tf.depthwiseConv2d(xt as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
          dispose: () => tf.dispose([xt, f]),
        };
      },
    },
    {
      name: label,
      kernel: 'DepthwiseConv2dNativeBackpropInput',
      shipped: false,
      setup() {
        const dy = tensor(x, 2);
        const f = tensor(filter, 3, 0.1);
        return {
          run: () =>
            tf
              .engine()
              .runKernel(
                'DepthwiseConv2dNativeBackpropInput',
                { dy, filter: f },
                { ...attrs, inputShape: x },
              ) as tf.Tensor,
          dispose: () => tf.dispose([dy, f]),
        };
      },
    },
    {
      name: label,
      kernel: 'DepthwiseConv2dNativeBackpropFilter',
      shipped: false,
      setup() {
        const xt = tensor(x, 1);
        const dy = tensor(x, 2);
        return {
          run: () =>
            tf
              .engine()
              .runKernel(
                'DepthwiseConv2dNativeBackpropFilter',
                { x: xt, dy },
                { ...attrs, filterShape: filter },
              ) as tf.Tensor,
          dispose: () => tf.dispose([xt, dy]),
        };
      },
    },
  ];
}

function matMulCase(label: string, a: number[], b: number[], ta: boolean, tb: boolean): Case {
  return {
    name: label,
    kernel: 'BatchMatMul',
    shipped: true,
    setup() {
      const at = tensor(a, 4);
      const bt = tensor(b, 5);
      return {
        run: () => tf.matMul(at, bt, ta, tb),
        dispose: () => tf.dispose([at, bt]),
      };
    },
  };
}

function denseCases(rows: number, c: number): Case[] {
  const h = 4 * c;
  const tag = `dense ${c}->${h}->${c} over ${rows} rows`;
  return [
    matMulCase(`${tag}: x.W1 (forward)`, [rows, c], [c, h], false, false),
    matMulCase(`${tag}: dx = dy.W1^T`, [rows, h], [c, h], false, true),
    matMulCase(`${tag}: dW1 = x^T.dy`, [rows, c], [rows, h], true, false),
    matMulCase(`${tag}: dx = dy.W2^T`, [rows, c], [h, c], false, true),
    matMulCase(`${tag}: dW2 = h^T.dy`, [rows, h], [rows, c], true, false),
  ];
}

/** A shipped kernel we replaced for speed, timed on one call of `op`. */
function opCase(
  name: string,
  kernel: string,
  shapes: number[][],
  op: (...xs: tf.Tensor[]) => tf.Tensor,
): Case {
  return {
    name,
    kernel,
    shipped: true,
    setup() {
      const xs = shapes.map((shape, i) => tensor(shape, i + 1));
      return { run: () => op(...xs), dispose: () => tf.dispose(xs) };
    },
  };
}

function otherCases(): Case[] {
  const rows = BATCH * (IMAGE / 4) ** 2;
  const s = IMAGE / 4;
  return [
    opCase(`dense bias gradient: sum of [${rows}, 128] over rows`, 'Sum', [[rows, 128]], (x) =>
      tf.sum(x, 0),
    ),
    opCase(
      `BatchNorm statistics: mean of [${BATCH},${IMAGE},${IMAGE},8] over N,H,W`,
      'Mean',
      [[BATCH, IMAGE, IMAGE, 8]],
      (x) => tf.mean(x, [0, 1, 2], true),
    ),
    opCase(
      `LayerNorm scale: [${BATCH},${s},${s},32] * [32]`,
      'Multiply',
      [[BATCH, s, s, 32], [32]],
      (x, g) => tf.mul(x, g),
    ),
    opCase(
      `BatchNorm shift: [${BATCH},${IMAGE},${IMAGE},8] - [1,1,1,8]`,
      'Sub',
      [
        [BATCH, IMAGE, IMAGE, 8],
        [1, 1, 1, 8],
      ],
      (x, m) => tf.sub(x, m),
    ),
    opCase(
      `mask up-sampling: tile [${BATCH},2,1,2,1,1] by [1,1,32,1,32,1]`,
      'Tile',
      [[BATCH, 2, 1, 2, 1, 1]],
      (m) => tf.tile(m, [1, 1, 32, 1, 32, 1]),
    ),
  ];
}

/** A ConvNeXt block: depthwise 7x7, LayerNorm, dense 4x, GELU, dense, layer scale, residual. */
function blockCase(size: number, c: number): Case {
  return {
    name: `ConvNeXt block forward+backward ${size}x${size}x${c}`,
    kernel: 'block',
    shipped: false,
    setup() {
      const x = tensor([BATCH, size, size, c], 1);
      const r = tensor([BATCH, size, size, c], 9);
      const params = [
        tensor([7, 7, c, 1], 2, 0.1),
        tensor([c], 3, 0.1),
        tf.ones([c]),
        tf.zeros([c]),
        tensor([c, 4 * c], 4, 0.1),
        tensor([4 * c], 5, 0.1),
        tensor([4 * c, c], 6, 0.1),
        tensor([c], 7, 0.1),
        tf.fill([c], 0.5),
      ];
      const loss = (...ts: tf.Tensor[]): tf.Scalar => {
        const [xi, dwW, dwB, lnG, lnB, w1, b1, w2, b2, gamma] = ts as [
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor2D,
          tf.Tensor,
          tf.Tensor2D,
          tf.Tensor,
          tf.Tensor,
        ];
        const d = tf.add(tf.depthwiseConv2d(xi, dwW, 1, 'same'), dwB);
        const { mean, variance } = tf.moments(d, -1, true);
        const n = tf.add(
          tf.mul(tf.div(tf.sub(d, mean), tf.sqrt(tf.add(variance, 1e-6))), lnG),
          lnB,
        );
        const rows = tf.reshape(n, [-1, c]) as tf.Tensor2D;
        const h1 = tf.add(tf.matMul(rows, w1), b1);
        const g = tf.mul(tf.mul(h1, 0.5), tf.add(tf.erf(tf.mul(h1, Math.SQRT1_2)), 1));
        const h2 = tf.add(tf.matMul(g as tf.Tensor2D, w2), b2);
        const y = tf.add(xi, tf.mul(tf.reshape(h2, xi.shape), gamma));
        return tf.sum(tf.mul(y, r));
      };
      const grads = tf.grads(loss);
      return {
        run: () => grads([x, ...params]),
        dispose: () => tf.dispose([x, r, ...params]),
      };
    },
  };
}

function allCases(): Case[] {
  const [c1, c2, c3, c4] = WIDTHS as [number, number, number, number];
  const s1 = IMAGE / 4;
  return [
    ...convCases(
      `stem 4x4/s4 1->${c1} at ${IMAGE}px`,
      [BATCH, IMAGE, IMAGE, 1],
      [4, 4, 1, c1],
      4,
      'valid',
    ),
    ...convCases(
      `downsample 2x2/s2 ${c1}->${c2} at ${s1}px`,
      [BATCH, s1, s1, c1],
      [2, 2, c1, c2],
      2,
      'valid',
    ),
    ...convCases(
      `downsample 2x2/s2 ${c2}->${c3} at ${s1 / 2}px`,
      [BATCH, s1 / 2, s1 / 2, c2],
      [2, 2, c2, c3],
      2,
      'valid',
    ),
    ...convCases(
      `downsample 2x2/s2 ${c3}->${c4} at ${s1 / 4}px`,
      [BATCH, s1 / 4, s1 / 4, c3],
      [2, 2, c3, c4],
      2,
      'valid',
    ),
    ...depthwiseCases(s1, c1),
    ...depthwiseCases(s1 / 2, c2),
    ...depthwiseCases(s1 / 4, c3),
    ...depthwiseCases(s1 / 8, c4),
    ...denseCases(BATCH * s1 * s1, c1),
    ...convCases(
      `conv 3x3 'same' ${c1}->${c1} at ${IMAGE / 2}px`,
      [BATCH, IMAGE / 2, IMAGE / 2, c1],
      [3, 3, c1, c1],
      1,
      'same',
    ),
    ...convCases(
      `conv 1x1 ${c2}->${c1} at ${s1}px`,
      [BATCH, s1, s1, c2],
      [1, 1, c2, c1],
      1,
      'same',
    ),
    ...convCases(
      `conv2dTranspose k4/s2 'same' ${c2}->${c1}, ${s1 / 2}px -> ${s1}px`,
      [BATCH, s1, s1, c1],
      [4, 4, c1, c2],
      2,
      'same',
    ),
    ...otherCases(),
    blockCase(s1, c1),
    blockCase(s1 / 2, c2),
  ];
}

/** Seconds after which a slow kernel (the cpu backend's) is timed with fewer calls. */
const SLOW_BUDGET_MS = 10_000;

function timeCalls(run: () => Outputs, minCalls: number, minMs: number): number[] {
  const first = performance.now();
  tf.dispose(run());
  if (performance.now() - first < 1000) tf.dispose(run()); // a second warm-up if cheap
  const times: number[] = [];
  const start = performance.now();
  for (;;) {
    const elapsed = performance.now() - start;
    const enough = times.length >= minCalls || (times.length >= 3 && elapsed > SLOW_BUDGET_MS);
    if (enough && (elapsed >= minMs || times.length >= 200)) break;
    const t0 = performance.now();
    const out = run(); // wasm and cpu kernels compute synchronously
    times.push(performance.now() - t0);
    tf.dispose(out);
  }
  return times;
}

async function measure(
  c: Case,
  backend: 'wasm' | 'cpu',
  minCalls: number,
  minMs: number,
): Promise<number> {
  await tf.setBackend(backend);
  const { run, dispose } = c.setup();
  try {
    return median(timeCalls(run, minCalls, minMs));
  } finally {
    dispose();
  }
}

const round = (ms: number | null): number | null =>
  ms === null ? null : Math.round(ms * 1000) / 1000;

const benchmark: Benchmark = {
  options: {
    calls: 'least timed calls per kernel and backend (default 5)',
    ms: 'least milliseconds of timed calls per kernel and backend (default 300)',
    cpu: "'no' to skip the cpu backend (default: measure it)",
    shipped: "'no' to skip the shipped wasm kernels (default: measure them)",
  },
  async run(options) {
    const minCalls = Number(options.calls ?? 5);
    const minMs = Number(options.ms ?? 300);
    if (!(minCalls >= 1) || !(minMs >= 0)) {
      throw new RangeError(
        `--calls must be >= 1 and --ms >= 0, got ${options.calls}, ${options.ms}`,
      );
    }
    const withCpu = options.cpu !== 'no';
    const withShipped = options.shipped !== 'no';
    const info = await initBackend({ backend: 'wasm' });
    console.error(
      `backend: ${info.name} (${info.package}), threads ${info.threads}, simd ${info.simd}`,
    );
    const results = [];
    for (const c of allCases()) {
      registerWasmKernels();
      const wasmMs = await measure(c, 'wasm', minCalls, minMs);
      let shippedMs: number | null = null;
      if (withShipped && c.shipped && c.kernel !== 'DepthwiseConv2dNative') {
        unregisterWasmKernels();
        try {
          shippedMs = await measure(c, 'wasm', minCalls, minMs);
        } finally {
          registerWasmKernels();
        }
      }
      const cpuMs = withCpu ? await measure(c, 'cpu', minCalls, minMs) : null;
      const row = {
        case: c.name,
        kernel: c.kernel,
        wasmMs: round(wasmMs),
        shippedWasmMs: round(shippedMs),
        cpuMs: round(cpuMs),
        speedupVsCpu: cpuMs === null ? null : Math.round((cpuMs / wasmMs) * 10) / 10,
        speedupVsShipped: shippedMs === null ? null : Math.round((shippedMs / wasmMs) * 10) / 10,
      };
      const fmt = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)} ms`);
      console.error(
        `${c.name} | ${c.kernel}: wasm ${fmt(wasmMs)}, shipped wasm ${fmt(shippedMs)}, ` +
          `cpu ${fmt(cpuMs)}${row.speedupVsCpu === null ? '' : ` (${row.speedupVsCpu}x vs cpu)`}`,
      );
      results.push(row);
    }
    await tf.setBackend('wasm');
    return {
      batch: BATCH,
      image: IMAGE,
      widths: WIDTHS,
      backend: info,
      minCalls,
      minMs,
      peakRssMiB: peakRssMiB(),
      results,
    };
  },
};
export default benchmark;
