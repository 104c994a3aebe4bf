/**
 * Running the same computation on two backends and comparing the results: how the wasm
 * kernels are checked against the `cpu` backend (tests, and anyone adding an op).
 */
import * as tf from '@tensorflow/tfjs-core';

/** max|a - b| / max(1e-6, max|b|): the error of `a` relative to the reference `b`. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.POSITIVE_INFINITY;
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return diff / Math.max(1e-6, scale);
}

export interface HostTensor {
  shape: number[];
  values: Float32Array;
}

/** Deterministic values in [-1, 1) (a linear congruential generator), same on every backend. */
export function seededValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = (Math.imul(seed + 1, 2654435761) >>> 0) | 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Runs `fn` with `backend` active and returns its outputs as host arrays; every tensor
 * it made is disposed and the previously active backend is restored, even on error.
 */
export async function onBackend(
  backend: string,
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<HostTensor[]> {
  const previous = tf.getBackend();
  if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' failed to start`);
  try {
    const outs: HostTensor[] = [];
    tf.tidy(() => {
      const result = fn();
      for (const t of Array.isArray(result) ? result : [result]) {
        outs.push({ shape: t.shape.slice(), values: new Float32Array(t.dataSync()) });
      }
    });
    return outs;
  } finally {
    if (previous && previous !== backend) await tf.setBackend(previous);
  }
}

/**
 * The largest relative error of `backend`'s outputs against `reference`'s (shapes must
 * agree); `fn` builds its inputs itself, e.g. with `seededValues`.
 */
export async function compareBackends(
  fn: () => tf.Tensor | tf.Tensor[],
  backend = 'wasm',
  reference = 'cpu',
): Promise<{ error: number; errors: number[]; shapes: number[][] }> {
  const got = await onBackend(backend, fn);
  const want = await onBackend(reference, fn);
  if (got.length !== want.length) {
    throw new Error(`${backend} gave ${got.length} outputs, ${reference} ${want.length}`);
  }
  const errors = got.map((g, i) => {
    const w = want[i] as HostTensor;
    if (g.shape.join() !== w.shape.join()) {
      throw new Error(`output ${i}: shape ${g.shape} on ${backend}, ${w.shape} on ${reference}`);
    }
    return relativeError(g.values, w.values);
  });
  return { error: Math.max(0, ...errors), errors, shapes: got.map((g) => g.shape) };
}
