/**
 * Registers masksweep's training kernels for TensorFlow.js's `wasm` backend: the ones it
 * lacks (a ConvNeXt training step fails without them) and fast replacements for the ones
 * that fall to scalar loops. Each is a composite of the backend's own XNNPACK / C++
 * kernels; see the files named below and docs/training.md#backend.
 *
 * - Conv2DBackpropFilter (missing): conv2d-backprop.ts
 * - Conv2DBackpropInput (a scalar loop; also conv2dTranspose's forward): conv2d-backprop.ts
 * - DepthwiseConv2dNativeBackpropInput, ...BackpropFilter (missing): depthwise-backprop.ts
 * - BatchMatMul (XNNPACK only untransposed with batch 1, else a scalar loop): batch-matmul.ts
 * - GatherV2 (about 30 ns per element) and UnsortedSegmentSum (missing; gather's
 *   gradient): gather.ts
 * - MaxPoolGrad (wrong when a window's maximum is <= 0): max-pool-grad.ts
 * - Tile above rank 4, Sum and Mean over outer axes (slow shipped paths): tile-and-reduce.ts
 * - Add, Sub, Multiply, RealDiv, SquaredDifference with a small vector broadcast along the
 *   leading axes (10x slower than equal shapes): binary-broadcast.ts
 *
 * Importing this module imports the wasm backend (which registers it and its kernels)
 * and tfjs-layers (whose Node bundle registers the gradients). Call
 * `registerWasmKernels()` before `tf.setBackend('wasm')`; calling it again, or after the
 * backend started, is harmless.
 */
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch-matmul.js';
import { binaryBroadcastConfigs } from './binary-broadcast.js';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv2d-backprop.js';
import {
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
} from './depthwise-backprop.js';
import { gatherV2Config, unsortedSegmentSumConfig } from './gather.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { meanConfig, sumConfig, tileConfig } from './tile-and-reduce.js';
import { originalKernels } from './wasm-ops.js';

const MARK = Symbol.for('masksweep.wasm.kernel');
type Marked = KernelConfig & { [MARK]?: true };

/** Our kernels, in registration order. */
export const WASM_KERNEL_CONFIGS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  batchMatMulConfig,
  gatherV2Config,
  unsortedSegmentSumConfig,
  maxPoolGradConfig,
  tileConfig,
  sumConfig,
  meanConfig,
  ...binaryBroadcastConfigs,
];

/** The names of the kernels `registerWasmKernels` installs. */
export const WASM_KERNEL_NAMES: readonly string[] = WASM_KERNEL_CONFIGS.map((c) => c.kernelName);

/** True when our kernel is the one registered for `name` on wasm. */
export function isMasksweepKernel(name: string): boolean {
  return (tf.getKernel(name, 'wasm') as Marked | undefined)?.[MARK] === true;
}

/**
 * Installs our kernels for the `wasm` backend, keeping the shipped ones they replace
 * (their setup still runs, and the composites call them). Idempotent.
 */
export function registerWasmKernels(): readonly string[] {
  const originals = originalKernels();
  for (const config of WASM_KERNEL_CONFIGS) {
    const name = config.kernelName;
    const current = tf.getKernel(name, 'wasm') as Marked | undefined;
    if (current?.[MARK]) continue;
    if (current) {
      originals.set(name, current);
      tf.unregisterKernel(name, 'wasm');
    }
    const shipped = originals.get(name);
    const ours: Marked = {
      ...config,
      // The shipped kernel's setup (e.g. binding its C++ function) must still run.
      ...(shipped?.setupFunc ? { setupFunc: shipped.setupFunc } : {}),
      ...(shipped?.disposeFunc ? { disposeFunc: shipped.disposeFunc } : {}),
      [MARK]: true,
    };
    tf.registerKernel(ours);
  }
  return WASM_KERNEL_NAMES;
}

/**
 * Puts the shipped kernels back (and removes the ones the backend lacks). For
 * comparisons in tests and benchmarks; training should not need it.
 */
export function unregisterWasmKernels(): void {
  const originals = originalKernels();
  for (const name of WASM_KERNEL_NAMES) {
    if (!isMasksweepKernel(name)) continue;
    tf.unregisterKernel(name, 'wasm');
    const shipped = originals.get(name);
    if (shipped) tf.registerKernel(shipped);
  }
}
