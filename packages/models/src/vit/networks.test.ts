import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareBackends, registerWasmKernels } from '@masksweep/backend';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTensors, saveTensors } from '../checkpoint.js';
import { MffNetwork, ViTClassifier, type ViTConfig } from './networks.js';
import { maeRandomMask } from './random-masking.js';

/** 32 px, patch 8 (16 tokens), width 32, 6 blocks of 2 heads; decoder 16 wide, 1 block. */
const SMALL: ViTConfig = {
  patchSize: 8,
  width: 32,
  depth: 6,
  heads: 2,
  decoderWidth: 16,
  decoderDepth: 1,
  decoderHeads: 2,
  maskRatio: 0.75,
};
const B = 2;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomImage(seed: number): tf.Tensor4D {
  const rng = new Random(seed);
  return tf.tensor4d(
    Float32Array.from({ length: B * 32 * 32 }, () => rng.normal()),
    [B, 32, 32, 1],
  );
}

const network = (seed = 1) => new MffNetwork({ ...SMALL, imageSize: 32, seed });
const squaredError = (prediction: tf.Tensor) =>
  tf.mean(tf.square(tf.sub(prediction, 0.5))) as tf.Scalar;

describe('MFF network', () => {
  it('predicts every patch, fuses every block of a 6-block ViT, trains every weight, leaks nothing', () => {
    const net = network();
    expect(net.fusionLayers).toEqual([0, 1, 2, 3, 4, 5]);
    const image = randomImage(3);
    const mask = net.drawMask(B, new Random(4));
    const out = net.reconstruct(image, mask, false);
    expect(out.shape).toEqual([B, 16, 64]);
    out.dispose();

    const named = [...net.namedWeights()];
    expect(named.filter(([n]) => !n.match(/^(encoder|fusion|decoder)\./))).toEqual([]);
    expect(named.filter(([, v]) => !v.trainable).map(([n]) => n)).toEqual([
      'encoder.pos_embed',
      'decoder.pos_embed',
    ]);
    const variables = net.trainableVariables();
    const optimizer = tf.train.adam(3e-3);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => squaredError(net.reconstruct(image, mask, true)),
          variables,
        );
        expect(variables.filter((v) => !grads[v.name]).map((v) => v.name)).toEqual([]);
        optimizer.applyGradients(
          grads as unknown as Parameters<typeof optimizer.applyGradients>[0],
        );
        return value.dataSync()[0] as number;
      });
    const initial = net.fusionWeights();
    for (const weight of initial) expect(weight).toBeCloseTo(1 / 6, 6);
    const first = step(); // creates the optimiser's slots
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 2; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
    const weights = net.fusionWeights();
    expect(weights).not.toEqual(initial);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    net.dispose();
    tf.dispose([image]);
    optimizer.dispose();
  });

  it('fuses a ViT-B-like depth at 0, 2, 4, 6, 8, 11 and checks a given list', () => {
    const deep = new MffNetwork({
      ...SMALL,
      depth: 12,
      width: 8,
      heads: 2,
      imageSize: 16,
      seed: 1,
    });
    expect(deep.fusionLayers).toEqual([0, 2, 4, 6, 8, 11]);
    deep.dispose();
    expect(
      () => new MffNetwork({ ...SMALL, imageSize: 32, seed: 1, fusionLayers: [0, 2] }),
    ).toThrow(/end at the last block \(5\)/);
    expect(
      () => new MffNetwork({ ...SMALL, imageSize: 32, seed: 1, fusionLayers: [-1, 5] }),
    ).toThrow(/from 0 or more/);
  });

  it('draws the same weights and masks from the same seeds', () => {
    const a = network(7);
    const b = network(7);
    const name = 'decoder.blocks.0.attn.qkv.kernel';
    expect(a.namedWeights().get(name)?.dataSync()).toEqual(b.namedWeights().get(name)?.dataSync());
    expect(a.drawMask(B, new Random(1))).toEqual(b.drawMask(B, new Random(1)));
    a.dispose();
    b.dispose();
  });
});

describe('ViT classifier', () => {
  const classifier = (seed = 12) =>
    new ViTClassifier({ ...SMALL, imageSize: 32, numClasses: 2, seed });

  it('gives logits, patch-grid features for Grad-CAM, and trains without leaks', () => {
    const net = classifier();
    const image = randomImage(1);
    const features = net.features(image, false);
    expect(features.map((f) => f.shape)).toEqual(Array(6).fill([B, 4, 4, 32]));
    const logits = net.logits(image, false);
    expect(logits.shape).toEqual([B, 2]);
    const viaGrid = net.classify(features[5] as tf.Tensor4D);
    expect(viaGrid.arraySync()).toEqual(logits.arraySync());
    tf.dispose([...features, logits, viaGrid]);

    const variables = net.trainableVariables();
    expect(net.namedWeights().get('encoder.pos_embed')?.trainable).toBe(true);
    const labels = tf.oneHot(tf.tensor1d([0, 1], 'int32'), 2);
    const optimizer = tf.train.sgd(0.01);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.losses.softmaxCrossEntropy(labels, net.logits(image, true)) as tf.Scalar,
          variables,
        );
        expect(variables.filter((v) => !grads[v.name]).map((v) => v.name)).toEqual([]);
        optimizer.applyGradients(grads);
        return value.dataSync()[0] as number;
      });
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
    tf.dispose([image, labels]);
    optimizer.dispose();
  });

  it('takes the encoder of an MFF checkpoint file by name', () => {
    const pretrained = network(11);
    const file = join(mkdtempSync(join(tmpdir(), 'vit-')), 'weights.bin');
    saveTensors(file, pretrained.namedWeights());
    const { tensors } = loadTensors(file);
    const net = classifier();
    const encoderNames = [...net.namedWeights().keys()].filter((n) => n.startsWith('encoder.'));
    expect(net.loadEncoder(tensors)).toBe(encoderNames.length);
    const name = 'encoder.layers.3.ffn.fc1.kernel';
    expect(net.namedWeights().get(name)?.dataSync()).toEqual(
      pretrained.namedWeights().get(name)?.dataSync(),
    );
    tf.dispose([...tensors.values()]);
    pretrained.dispose();
    net.dispose();
  });
});

describe('an MFF step on wasm', () => {
  beforeAll(async () => {
    registerWasmKernels();
    // Start wasm once, so its buffers can be counted before the comparison.
    await tf.setBackend('wasm');
    await tf.setBackend('cpu');
  });

  it("gives cpu's loss and gradients for every weight", async () => {
    const mask = maeRandomMask(B, 16, SMALL.maskRatio, new Random(4));
    let weightCount = 0;
    const run = () => {
      const net = network(3);
      const image = randomImage(5);
      const variables = net.trainableVariables();
      const { value, grads } = tf.variableGrads(
        () => squaredError(net.reconstruct(image, mask, true)),
        variables,
      );
      const out = [value, ...variables.map((v) => grads[v.name] as tf.Tensor)];
      weightCount = variables.length;
      net.dispose();
      return out;
    };
    const wasm = tf.findBackend('wasm') as tf.KernelBackend;
    const tensors = tf.memory().numTensors;
    const buffers = wasm.numDataIds();
    const { errors } = await compareBackends(run);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(wasm.numDataIds()).toBe(buffers);
    expect(errors).toHaveLength(1 + weightCount);
    expect(Math.max(...errors)).toBeLessThan(1e-3);
  });
});
