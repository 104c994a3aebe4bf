import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isMasksweepKernel } from './register-wasm-kernels.js';
import { BACKEND_ENV, currentBackend, initBackend } from './select-backend.js';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const tfjsNodeInstalled =
  installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

let previousBackend: string | undefined;
const previousEnv = process.env[BACKEND_ENV];
beforeAll(() => {
  previousBackend = tf.getBackend();
  delete process.env[BACKEND_ENV];
});
afterEach(() => {
  delete process.env[BACKEND_ENV];
});
afterAll(async () => {
  if (previousEnv === undefined) delete process.env[BACKEND_ENV];
  else process.env[BACKEND_ENV] = previousEnv;
  if (previousBackend) await tf.setBackend(previousBackend);
});

describe('initBackend', () => {
  it.skipIf(tfjsNodeInstalled)(
    "'auto' without tfjs-node picks wasm with our kernels, and says why",
    async () => {
      const info = await initBackend();
      expect(info.name).toBe('wasm');
      expect(info.package).toBe('@tensorflow/tfjs-backend-wasm');
      expect(info.reason).toMatch(/@tensorflow\/tfjs-node is not installed/);
      expect(info.reason).toMatch(/@tensorflow\/tfjs-node-gpu is not installed/);
      expect(info.threads).toBeGreaterThanOrEqual(1);
      expect(typeof info.simd).toBe('boolean');
      expect(tf.getBackend()).toBe('wasm');
      expect(isMasksweepKernel('Conv2DBackpropFilter')).toBe(true);
      expect(currentBackend()).toBe(info);
    },
  );

  it('is idempotent: the same request returns the same info', async () => {
    const first = await initBackend({ backend: 'auto' });
    const second = await initBackend();
    expect(second).toBe(first);
  });

  it('honours MASKSWEEP_BACKEND=cpu', async () => {
    process.env[BACKEND_ENV] = 'cpu';
    const info = await initBackend();
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.reason).toContain(`${BACKEND_ENV}=cpu`);
  });

  it("an explicit option wins over MASKSWEEP_BACKEND; 'auto' defers to it", async () => {
    process.env[BACKEND_ENV] = 'cpu';
    expect((await initBackend({ backend: 'wasm' })).name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect((await initBackend({ backend: 'auto' })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('switches back when the same request comes again after another', async () => {
    const wasm = await initBackend({ backend: 'wasm' });
    await initBackend({ backend: 'cpu' });
    expect(await initBackend({ backend: 'wasm' })).toBe(wasm);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses an unknown name, naming it and the allowed ones', async () => {
    process.env[BACKEND_ENV] = 'webgpu';
    await expect(initBackend()).rejects.toThrow(
      "MASKSWEEP_BACKEND 'webgpu' is not a backend: use one of auto, tensorflow, wasm, cpu",
    );
    delete process.env[BACKEND_ENV];
    await expect(initBackend({ backend: 'gpu' as never })).rejects.toThrow(
      "backend option 'gpu' is not a backend: use one of auto, tensorflow, wasm, cpu",
    );
  });

  it.skipIf(tfjsNodeInstalled)("'tensorflow' without tfjs-node fails and says so", async () => {
    await expect(initBackend({ backend: 'tensorflow' })).rejects.toThrow(
      /@tensorflow\/tfjs-node is not installed/,
    );
  });
});
