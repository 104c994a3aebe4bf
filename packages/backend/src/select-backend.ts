/**
 * Chooses the TensorFlow.js backend training runs on, once per process, and says why.
 *
 * 'auto' tries, in order:
 * 1. `tensorflow` from `@tensorflow/tfjs-node-gpu`: native TensorFlow with CUDA, the
 *    trial image's backend on GPU pods;
 * 2. `tensorflow` from `@tensorflow/tfjs-node`: native TensorFlow on the CPU (oneDNN),
 *    several times faster than WebAssembly on large layers;
 * 3. `wasm` from `@tensorflow/tfjs-backend-wasm`, with masksweep's training kernels
 *    registered first (the shipped backend cannot train a ConvNeXt: see
 *    register-wasm-kernels.ts): XNNPACK with SIMD, always installed;
 * 4. `cpu` from `@tensorflow/tfjs-backend-cpu`: plain JavaScript, 10-25x slower than
 *    wasm on a training step; the last resort.
 * The tfjs-node packages are optional and not dependencies: they are imported by a
 * module name held in a variable, so neither TypeScript nor the bundle needs them, and
 * their absence only moves the choice down the list.
 *
 * The request comes from `options.backend`, else from the environment variable
 * MASKSWEEP_BACKEND (read here and nowhere else), else 'auto'; an explicit option other
 * than 'auto' wins over the variable.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** The tfjs backend name now active: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** The npm package that provides it. */
  package: string;
  /** Threads the backend computes with, when known. */
  threads?: number;
  /** Whether WebAssembly SIMD is used (wasm only). */
  simd?: boolean;
  /** Why this backend was chosen, in one or two sentences, for logs and reports. */
  reason: string;
}

export interface InitBackendOptions {
  backend?: BackendChoice;
}

export const BACKEND_ENV = 'MASKSWEEP_BACKEND';

const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const TFJS_NODE = '@tensorflow/tfjs-node';
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const CPU_PACKAGE = '@tensorflow/tfjs-backend-cpu';

function isChoice(value: string): value is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(value);
}

function parseChoice(value: string, source: string): BackendChoice {
  const v = value.trim().toLowerCase();
  if (!isChoice(v)) {
    throw new Error(
      `${source} '${value}' is not a backend: use one of ${BACKEND_CHOICES.join(', ')}`,
    );
  }
  return v;
}

/** The request and where it came from. */
function resolveRequest(options: InitBackendOptions): { choice: BackendChoice; source: string } {
  const option = options.backend;
  if (option !== undefined) {
    const choice = parseChoice(String(option), 'backend option');
    if (choice !== 'auto') return { choice, source: `requested by the backend option` };
  }
  const env = process.env[BACKEND_ENV];
  if (env !== undefined && env.trim() !== '') {
    const choice = parseChoice(env, BACKEND_ENV);
    return { choice, source: `requested by ${BACKEND_ENV}=${env}` };
  }
  return { choice: 'auto', source: 'auto' };
}

/** One selection per request (choice and where it came from): same request, same info. */
const selections = new Map<string, Promise<BackendInfo>>();
let current: { choice: BackendChoice; info: BackendInfo } | undefined;

/**
 * Selects, initialises and activates the backend; returns what was chosen and why.
 * Idempotent: a second call with the same request returns the same info without
 * re-initialising; a call with a different explicit request switches backends.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const { choice, source } = resolveRequest(options);
  const key = `${choice}|${source}`;
  let pending = selections.get(key);
  if (!pending) {
    pending = select(choice, source);
    selections.set(key, pending);
    pending.catch(() => selections.delete(key));
  }
  const info = await pending;
  // Another request (or a direct tf.setBackend) may have switched backends since.
  if (tf.getBackend() !== info.name) await tf.setBackend(info.name);
  current = { choice, info };
  return info;
}

/** The info of the last successful `initBackend`, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current?.info;
}

async function select(choice: BackendChoice, source: string): Promise<BackendInfo> {
  switch (choice) {
    case 'tensorflow': {
      const failures: string[] = [];
      for (const pkg of [TFJS_NODE_GPU, TFJS_NODE]) {
        const outcome = await tryTensorflow(pkg);
        if ('info' in outcome)
          return { ...outcome.info, reason: `${source}; ${outcome.info.reason}` };
        failures.push(outcome.failure);
      }
      throw new Error(`backend 'tensorflow' ${source} is unavailable: ${failures.join('; ')}`);
    }
    case 'wasm': {
      const info = await activateWasm();
      return { ...info, reason: `${source}; ${WASM_REASON}${wasmDetails(info)}` };
    }
    case 'cpu':
      return activateCpu(`${source}; the pure JavaScript backend, slowest`);
    case 'auto': {
      const failures: string[] = [];
      for (const pkg of [TFJS_NODE_GPU, TFJS_NODE]) {
        const outcome = await tryTensorflow(pkg);
        if ('info' in outcome) return outcome.info;
        failures.push(outcome.failure);
      }
      const skipped = `${failures.join('; ')}`;
      try {
        const info = await activateWasm();
        return { ...info, reason: `auto: ${skipped}; chose ${WASM_REASON}${wasmDetails(info)}` };
      } catch (error) {
        return activateCpu(
          `auto: ${skipped}; the wasm backend failed to start (${message(error)}); ` +
            'fell back to the pure JavaScript backend, 10-25x slower than wasm',
        );
      }
    }
  }
}

const WASM_REASON =
  'WebAssembly (XNNPACK) with masksweep training kernels for the convolution gradients ' +
  'and transposed matrix products';

function wasmDetails(info: { threads?: number; simd?: boolean }): string {
  const threads =
    info.threads === 1 ? '1 thread (multithreading is off under Node)' : `${info.threads} threads`;
  return `, ${threads}, SIMD ${info.simd ? 'on' : 'off'}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether `pkg` can be found from here (node_modules lookup, no loading). */
function isInstalled(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

async function tryTensorflow(pkg: string): Promise<{ info: BackendInfo } | { failure: string }> {
  if (!isInstalled(pkg)) return { failure: `${pkg} is not installed` };
  try {
    // A name in a variable: TypeScript neither resolves nor requires the package.
    const name: string = pkg;
    await import(name);
  } catch (error) {
    return { failure: `${pkg} is installed but failed to load (${message(error)})` };
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) {
      return { failure: `${pkg} loaded but its 'tensorflow' backend did not initialise` };
    }
  } catch (error) {
    return { failure: `${pkg} loaded but its backend failed (${message(error)})` };
  }
  const gpu = pkg === TFJS_NODE_GPU;
  return {
    info: {
      name: 'tensorflow',
      package: pkg,
      reason: gpu
        ? `${pkg} is installed: native TensorFlow with CUDA, the fastest`
        : `${pkg} is installed: native TensorFlow on the CPU, faster than WebAssembly`,
    },
  };
}

async function activateWasm(): Promise<Omit<BackendInfo, 'reason'>> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { registerWasmKernels } = await import('./register-wasm-kernels.js');
  registerWasmKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false");
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  return { name: 'wasm', package: WASM_PACKAGE, threads: wasm.getThreadsCount(), simd };
}

async function activateCpu(reason: string): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error("tf.setBackend('cpu') returned false");
  return { name: 'cpu', package: CPU_PACKAGE, threads: 1, reason };
}
