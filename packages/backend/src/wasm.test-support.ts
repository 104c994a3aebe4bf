/** Test setup: the file's tests run on wasm with masksweep's kernels, then the backend before. */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll } from 'vitest';
import { registerWasmKernels } from './register-wasm-kernels.js';

export function useWasmBackend(): void {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    registerWasmKernels();
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    if (previous) await tf.setBackend(previous);
  });
}
