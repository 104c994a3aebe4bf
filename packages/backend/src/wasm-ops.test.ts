import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useWasmBackend } from './wasm.test-support.js';
import { aliasPadding, canonicalTranspose, fitAxis, WasmOps } from './wasm-ops.js';

useWasmBackend();

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
  );
}

/** Runs `WasmOps.transpose` on x and returns the result's values and shape. */
function opsTranspose(x: tf.Tensor, perm: number[]): { values: Float32Array; shape: number[] } {
  const backend = tf.backend() as BackendWasm;
  const ops = new WasmOps(backend);
  try {
    const out = ops.transpose({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, perm);
    return { values: new Float32Array(backend.typedArrayFromHeap(out)), shape: out.shape };
  } finally {
    ops.dispose();
  }
}

describe('canonicalTranspose', () => {
  it('drops size-1 axes and merges axes that stay neighbours', () => {
    expect(canonicalTranspose([8, 8, 2, 8, 2, 32], [2, 4, 5, 0, 1, 3])).toEqual({
      shape: [64, 2, 8, 64],
      perm: [1, 3, 0, 2],
    });
    expect(canonicalTranspose([8, 16, 16, 1], [3, 1, 2, 0])).toEqual({
      shape: [8, 256],
      perm: [1, 0],
    });
    expect(canonicalTranspose([2, 1, 3], [1, 0, 2])).toEqual({ shape: [6], perm: [0] });
  });
});

describe('aliasPadding', () => {
  it('pads power-of-two row counts with many columns, and nothing else', () => {
    expect(aliasPadding(2048, 128)).toBe(16);
    expect(aliasPadding(2048, 32)).toBe(16);
    expect(aliasPadding(2064, 128)).toBe(0);
    expect(aliasPadding(2000, 128)).toBe(0);
    expect(aliasPadding(128, 16)).toBe(0);
    expect(aliasPadding(401408, 8)).toBe(0);
  });
});

describe('fitAxis', () => {
  it('pads to the wanted output length, or crops when padding would be negative', () => {
    expect(fitAxis(8, 3, 7, 8)).toEqual({ start: 0, length: 8, before: 3, after: 3 });
    expect(fitAxis(6, 0, 1, 3, 2)).toEqual({ start: 0, length: 5, before: 0, after: 0 });
    expect(fitAxis(10, -2, 3, 6)).toEqual({ start: 2, length: 8, before: 0, after: 0 });
  });
});

describe('WasmOps.transpose', () => {
  it('matches tf.transpose for every permutation up to rank 5 and some of rank 6', () => {
    const wasm = tf.backend() as BackendWasm;
    const buffers = wasm.numDataIds();
    const bad: string[] = [];
    for (const shape of [
      [3, 4],
      [2, 3, 4],
      [2, 1, 3, 4],
      [2, 3, 4, 5, 2],
      [3, 1, 4, 2, 5, 2],
    ]) {
      const x = tf.tidy(() =>
        tf.reshape(
          tf.range(
            0,
            shape.reduce((a, b) => a * b, 1),
          ),
          shape,
        ),
      );
      for (const perm of permutations(shape.length).filter(
        (_, i) => shape.length < 6 || i % 7 === 0,
      )) {
        const want = tf.transpose(x, perm);
        const got = opsTranspose(x, perm);
        if (
          got.shape.join() !== want.shape.join() ||
          got.values.some((v, i) => v !== want.dataSync()[i])
        ) {
          bad.push(`${shape} ${perm}`);
        }
        want.dispose();
      }
      x.dispose();
    }
    expect(bad).toEqual([]);
    expect(wasm.numDataIds()).toBe(buffers);
  });

  it('is exact on the padded (cache-aliasing) path', () => {
    for (const shape of [
      [2048, 64],
      [3, 512, 40],
    ]) {
      const x = tf.randomNormal(shape);
      const perm = shape.length === 2 ? [1, 0] : [0, 2, 1];
      const want = tf.transpose(x, perm);
      const got = opsTranspose(x, perm);
      expect(got.shape).toEqual(want.shape);
      expect(Array.from(got.values)).toEqual(Array.from(want.dataSync()));
      tf.dispose([x, want]);
    }
  });
});
