/** A ResNet training step's gradients on wasm (with masksweep's kernels) against cpu. */
import '@tensorflow/tfjs-backend-cpu';
import { compareBackends, seededValues } from '@masksweep/backend';
import { useWasmBackend } from '@masksweep/backend/test-support';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ResNet } from './resnet.js';

useWasmBackend();

describe('ResNet on wasm', () => {
  it('gives the gradients of every weight that cpu gives (odd size: the padded strides)', async () => {
    const step = () => {
      // Residual gammas at 1, so every convolution gets a non-zero gradient.
      const layer = new ResNet({
        depth: 18,
        widths: [4, 8, 8, 8],
        seed: 3,
        zeroInitResidual: false,
      });
      layer.build([]);
      const x = tf.tensor4d(seededValues(2 * 36 * 36, 1), [2, 36, 36, 1]);
      const variables = layer.trainableVariables();
      const { value, grads } = tf.variableGrads(() => {
        const last = (layer.apply(x, { training: true }) as tf.Tensor[])[3] as tf.Tensor;
        return tf.sum(tf.mul(last, tf.tensor(seededValues(last.size, 2), last.shape))) as tf.Scalar;
      }, variables);
      const outputs = [value, ...variables.map((v) => grads[v.name] as tf.Tensor)];
      tf.dispose([...layer.namedWeights().values()]);
      return outputs;
    };
    const { error } = await compareBackends(step);
    expect(error).toBeLessThan(1e-3);
  });
});
