/**
 * Building blocks for composite kernels on the `wasm` backend: each helper calls one of
 * the backend's own kernels (XNNPACK convolutions and matrix products, C++ transposes,
 * pads and reductions) on `TensorInfo`s. JavaScript never loops over elements or pixels:
 * the few helpers that move data themselves (crops, filter flips, batch items) make one
 * typed-array copy per image row, filter tap or item. A `WasmOps` instance records every
 * intermediate it creates and frees them all in `dispose()`, except the one handed back
 * with `result()`.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type {
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

/** The wasm kernels that existed before ours replaced them, shared by every copy of this module. */
const ORIGINALS_KEY = Symbol.for('masksweep.wasm.originalKernels');
type GlobalWithOriginals = typeof globalThis & { [ORIGINALS_KEY]?: Map<string, KernelConfig> };

export function originalKernels(): Map<string, KernelConfig> {
  const g = globalThis as GlobalWithOriginals;
  g[ORIGINALS_KEY] ??= new Map();
  return g[ORIGINALS_KEY];
}

/**
 * The kernel function the wasm backend shipped for `name` (the one we replaced, if we
 * replaced it), so a composite never calls itself.
 */
export function wasmKernel(name: string): KernelFunc {
  const config = originalKernels().get(name) ?? tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`the wasm backend has no '${name}' kernel`);
  return config.kernelFunc;
}

export type Pair = [number, number];
type Padding4 = [[0, 0], Pair, Pair, [0, 0]];

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class WasmOps {
  private temps: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Runs the backend's own kernel `name`; its output is an intermediate until `result()`. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const out = wasmKernel(name)({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`kernel '${name}' returned several outputs`);
    this.temps.push(out);
    return out;
  }

  /** Makes `t` (an output of a kernel called directly) an intermediate of this scope. */
  adopt(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** A view with another shape (no copy: the data is shared and reference-counted). */
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /**
   * A transpose through the backend's C++ `Transpose`, planned for its fast paths: axes
   * of size 1 dropped and axes that stay neighbours merged (`canonicalTranspose`; an
   * identity is then no copy at all), ranks above 4 (where the C++ kernel allocates per
   * element) split into batched 2-D steps, and 2-D steps whose output rows are a multiple
   * of a large power of two padded first (`aliasPadding`).
   */
  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    const outShape = perm.map((a) => x.shape[a] as number);
    let { shape, perm: p } = canonicalTranspose(x.shape, perm);
    if (p.length <= 1) return this.reshape(x, outShape);
    let cur = this.reshape(x, shape);
    while (p.length > 4) {
      // Output axes before j are in place; bring input axis k = p[j] to position j by
      // moving block [j, k) behind block [k, rank): a batched 2-D transpose.
      const j = p.findIndex((a, i) => a !== i);
      const k = p[j] as number;
      const rot = [...range(0, j), ...range(k, p.length), ...range(j, k)];
      cur = this.transposeCanonical(cur, rot);
      shape = rot.map((a) => shape[a] as number);
      p = p.map((a) => rot.indexOf(a));
      ({ shape, perm: p } = canonicalTranspose(shape, p));
      cur = this.reshape(cur, shape);
    }
    if (p.length > 1) cur = this.transposeCanonical(cur, p);
    return this.reshape(cur, outShape);
  }

  /** One Transpose call on a canonical shape, padded against cache aliasing when 2-D. */
  private transposeCanonical(x: TensorInfo, perm: number[]): TensorInfo {
    const { shape, perm: p } = canonicalTranspose(x.shape, perm);
    const xc = this.reshape(x, shape);
    const outShape = p.map((a) => shape[a] as number);
    // Batched 2-D ([P,] X, Y -> [P,] Y, X): the C++ kernel writes with a stride of X.
    const twoD =
      (p.length === 2 && p[0] === 1) || (p.length === 3 && p[0] === 0 && p[1] === 2 && p[2] === 1);
    if (twoD) {
      const rows = shape[shape.length - 2] as number;
      const cols = shape[shape.length - 1] as number;
      const extra = aliasPadding(rows, cols);
      if (extra > 0) {
        const lead = shape.length === 3 ? (shape[0] as number) : 1;
        const padded = this.pad(this.reshape(xc, [lead, rows, cols]), [
          [0, 0],
          [0, extra],
          [0, 0],
        ]);
        const t = this.run('Transpose', { x: padded }, { perm: [0, 2, 1] }); // [lead, cols, rows+extra]
        return this.reshape(this.cropLastAxis(t, rows), outShape);
      }
    }
    return this.run('Transpose', { x: xc }, { perm: p });
  }

  /** The first `keep` elements of the last axis (one memory copy per row of >= 32). */
  cropLastAxis(x: TensorInfo, keep: number): TensorInfo {
    const last = x.shape[x.shape.length - 1] as number;
    if (keep === last) return x;
    const rows = size(x.shape) / last;
    const out = this.output([...x.shape.slice(0, -1), keep]);
    const src = this.backend.typedArrayFromHeap(x);
    const dst = this.backend.typedArrayFromHeap(out);
    for (let r = 0; r < rows; r++) dst.set(src.subarray(r * last, r * last + keep), r * keep);
    return out;
  }

  /** Zero padding (PadV2); `paddings` has one [before, after] per axis, all >= 0. */
  pad(x: TensorInfo, paddings: Pair[]): TensorInfo {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /**
   * x[:, top : top + height, left : left + width, :] of an NHWC tensor. One memory copy
   * per kept image row (N * height of them, each width * C contiguous floats): the
   * backend's GatherV2 took 12 ms for a 64x64x8 crop at batch 8, this about 0.1 ms.
   */
  cropSpatial(x: TensorInfo, top: number, height: number, left: number, width: number): TensorInfo {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (top === 0 && left === 0 && height === h && width === w) return x;
    if (top < 0 || left < 0 || top + height > h || left + width > w) {
      throw new Error(`crop [${top}+${height}, ${left}+${width}] is outside ${x.shape}`);
    }
    const out = this.output([n, height, width, c]);
    const src = this.backend.typedArrayFromHeap(x);
    const dst = this.backend.typedArrayFromHeap(out);
    const rowIn = w * c;
    const rowOut = width * c;
    for (let b = 0; b < n; b++) {
      for (let r = 0; r < height; r++) {
        const from = (b * h + top + r) * rowIn + left * c;
        dst.set(src.subarray(from, from + rowOut), (b * height + r) * rowOut);
      }
    }
    return out;
  }

  /** `cropSpatial` with the rows and columns an `AxisFit` keeps. */
  cropFit(x: TensorInfo, rows: AxisFit, cols: AxisFit): TensorInfo {
    return this.cropSpatial(x, rows.start, rows.length, cols.start, cols.length);
  }

  /**
   * Reverses the product of the leading `axes` axes, e.g. with axes = 2 on a filter
   * [kh, kw, ...] flips it in both spatial directions: one memory copy per filter tap
   * (kh*kw of them), instead of the slow `Reverse` kernel.
   */
  flipLeading(x: TensorInfo, axes: number): TensorInfo {
    const lead = size(x.shape.slice(0, axes));
    if (lead === 1) return x;
    const inner = size(x.shape.slice(axes));
    const out = this.output(x.shape.slice());
    const src = this.backend.typedArrayFromHeap(x);
    const dst = this.backend.typedArrayFromHeap(out);
    for (let i = 0; i < lead; i++) {
      const from = (lead - 1 - i) * inner;
      dst.set(src.subarray(from, from + inner), i * inner);
    }
    return out;
  }

  /**
   * x [N, H, W, C] -> [N, H*sh, W*sw, C] with x[n, i, j] at (i*sh, j*sw) and zeros
   * elsewhere (the trailing sh-1 rows and sw-1 columns are zeros too): one PadV2.
   */
  zeroUpsample(x: TensorInfo, [sh, sw]: Pair): TensorInfo {
    if (sh === 1 && sw === 1) return x;
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const x5 = this.reshape(x, [n * h, 1, w, 1, c]);
    const padded = this.pad(x5, [
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    return this.reshape(padded, [n, h * sh, w * sw, c]);
  }

  /** Sum over the last axis. */
  sumLast(x: TensorInfo): TensorInfo {
    const last = x.shape.length - 1;
    if (x.shape[last] === 1) return this.reshape(x, x.shape.slice(0, last));
    return this.run('Sum', { x }, { axis: [last], keepDims: false });
  }

  /** XNNPACK convolution, NHWC, explicit zero padding. */
  conv2d(
    x: TensorInfo,
    filter: TensorInfo,
    strides: Pair,
    dilations: Pair,
    pad: { top: number; bottom: number; left: number; right: number },
  ): TensorInfo {
    return this.run(
      'Conv2D',
      { x, filter },
      {
        strides,
        dilations,
        pad: explicitPad(pad),
        dataFormat: 'NHWC',
      },
    );
  }

  /** XNNPACK depthwise convolution, NHWC, explicit zero padding; filter [kh, kw, C, m]. */
  depthwise(
    x: TensorInfo,
    filter: TensorInfo,
    strides: Pair,
    dilations: Pair,
    pad: { top: number; bottom: number; left: number; right: number },
  ): TensorInfo {
    return this.run(
      'DepthwiseConv2dNative',
      { x, filter },
      { strides, dilations, pad: explicitPad(pad), dataFormat: 'NHWC' },
    );
  }

  /**
   * a [M, K] times b [K, N] through XNNPACK's fully-connected operator: the original
   * BatchMatMul kernel in its only fast case (batch 1, nothing transposed).
   */
  matMul2d(a: TensorInfo, b: TensorInfo): TensorInfo {
    const [m, k] = a.shape as Pair;
    const [k2, n] = b.shape as Pair;
    if (k !== k2) throw new Error(`matMul: inner sizes differ (${a.shape} x ${b.shape})`);
    const out = this.run(
      'BatchMatMul',
      { a: this.reshape(a, [1, m, k]), b: this.reshape(b, [1, k, n]) },
      { transposeA: false, transposeB: false },
    );
    return this.reshape(out, [m, n]);
  }

  /**
   * The tensor to return from a kernel. `x` must not be a kernel input handed back as
   * is: that is given a new reference (a reshape to the same shape), as the engine expects.
   */
  result(x: TensorInfo, shape: number[] = x.shape.slice()): TensorInfo {
    const out = this.temps.includes(x) && sameShape(x.shape, shape) ? x : this.reshape(x, shape);
    this.temps.splice(this.temps.lastIndexOf(out), 1);
    return out;
  }

  /** A new tensor whose content the caller writes (e.g. with `copyInto`). */
  output(shape: number[], dtype: tf.DataType = 'float32'): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype);
    this.temps.push(out);
    return out;
  }

  /** Item `i` of the first axis of `x`, as a new tensor (one memory copy). */
  item(x: TensorInfo, i: number): TensorInfo {
    const shape = x.shape.slice(1);
    const n = size(shape);
    const out = this.output(shape);
    const src = this.backend.typedArrayFromHeap(x);
    this.backend.typedArrayFromHeap(out).set(src.subarray(i * n, (i + 1) * n));
    return out;
  }

  /** Copies all of `src` into `dst` from element `offset` (one memory copy). */
  copyInto(src: TensorInfo, dst: TensorInfo, offset: number): void {
    this.backend.typedArrayFromHeap(dst).set(this.backend.typedArrayFromHeap(src), offset);
  }

  /** Runs `body` and frees the intermediates it created (for loops). */
  scoped(body: () => void): void {
    const mark = this.temps.length;
    try {
      body();
    } finally {
      for (const t of this.temps.splice(mark)) this.backend.disposeData(t.dataId);
    }
  }

  /** Frees every intermediate except the result. */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps = [];
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/**
 * The same transpose on the smallest shape: axes of size 1 dropped, and input axes that
 * stay next to each other in the output merged.
 */
export function canonicalTranspose(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const kept = range(0, shape.length).filter((a) => shape[a] !== 1);
  const newIndex = new Map(kept.map((a, i) => [a, i]));
  const dims = kept.map((a) => shape[a] as number);
  const p = perm.filter((a) => shape[a] !== 1).map((a) => newIndex.get(a) as number);
  // Runs of consecutive input axes in the output order become one axis.
  const runs: number[][] = [];
  for (const a of p) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] === a - 1) run.push(a);
    else runs.push([a]);
  }
  const byInput = runs.slice().sort((r1, r2) => (r1[0] as number) - (r2[0] as number));
  return {
    shape: byInput.map((run) => run.reduce((acc, a) => acc * (dims[a] as number), 1)),
    perm: runs.map((run) => byInput.indexOf(run)),
  };
}

/**
 * Zero rows to add before a 2-D transpose [rows, cols] -> [cols, rows]. The backend's
 * kernel writes each input row down a column, `rows` floats apart; when that stride is a
 * multiple of a large power of two (ConvNeXt's B*H*W always is) the `cols` cache lines it
 * cycles through fall into a few cache sets and evict each other: 2048 x 128 took 2.0 ms,
 * 2064 x 128 0.14 ms. Sixteen more rows make the stride an odd number of cache lines.
 */
export function aliasPadding(rows: number, cols: number): number {
  if (rows % 32 !== 0) return 0;
  let g = 1;
  const lines = rows / 16; // 64-byte lines per output row
  while (g < 64 && lines % (g * 2) === 0) g *= 2;
  const capacity = (8 * 64) / g; // lines an 8-way, 64-set L1 holds at that stride
  return cols > capacity ? 16 : 0;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function explicitPad(p: { top: number; bottom: number; left: number; right: number }): Padding4 {
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}

/** Runs `body` with a fresh `WasmOps`, always freeing its intermediates. */
export function withOps(backend: BackendWasm, body: (ops: WasmOps) => TensorInfo): TensorInfo {
  const ops = new WasmOps(backend);
  try {
    return body(ops);
  } finally {
    ops.dispose();
  }
}

/**
 * How one spatial axis of a convolution is made to produce exactly `outLength` outputs:
 * the input axis (length `length`) is first cropped to `start .. start + length' - 1`,
 * then padded with `before` / `after` zeros. `before` is the wanted leading padding
 * (negative: that many leading inputs are dropped instead); `extent` is the effective
 * filter size (dilation included) and `stride` the convolution's stride.
 */
export interface AxisFit {
  start: number;
  length: number;
  before: number;
  after: number;
}

export function fitAxis(
  length: number,
  before: number,
  extent: number,
  outLength: number,
  stride = 1,
): AxisFit {
  let start = 0;
  let len = length;
  let b = before;
  if (b < 0) {
    start = -b;
    len -= -b;
    b = 0;
  }
  let after = (outLength - 1) * stride + extent - len - b;
  if (after < 0) {
    len += after;
    after = 0;
  }
  if (len <= 0) throw new Error('convolution geometry leaves no input rows');
  return { start, length: len, before: b, after };
}
