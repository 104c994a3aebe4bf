import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ResNetClassifier, SimCLRNetwork } from './networks.js';

const MODEL = { depth: 18 as const, widths: [8, 16, 32, 64] };
const B = 4;
const SIZE = 32;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function images(seed: number): tf.Tensor4D {
  const rng = new Random(seed);
  return tf.tensor4d(
    Float32Array.from({ length: B * SIZE * SIZE }, () => rng.normal()),
    [B, SIZE, SIZE, 1],
  );
}

describe('SimCLR network', () => {
  it('projects each image to the neck width, by default 128 with a hidden layer as wide as the features', () => {
    const net = new SimCLRNetwork({ ...MODEL, seed: 1 });
    const z = net.embed(images(1), true);
    expect(z.shape).toEqual([B, 128]);
    const weights = net.namedWeights();
    expect(weights.get('neck.fc0.kernel')?.shape).toEqual([64, 64]);
    expect(weights.get('neck.fc1.kernel')?.shape).toEqual([64, 128]);
    expect([...weights.keys()].every((n) => /^(encoder|neck)\./.test(n))).toBe(true);
    z.dispose();
    net.dispose();
  });
});

describe('ResNet classifier', () => {
  it('gives logits and the last stage for Grad-CAM, without leaks', () => {
    const classifier = new ResNetClassifier({ ...MODEL, numClasses: 2, seed: 2 });
    const x = images(2);
    const before = tf.memory().numTensors;
    const { logits, stages, gradient } = tf.tidy(() => {
      const features = classifier.features(x, false);
      const last = features[3] as tf.Tensor4D;
      // Grad-CAM's derivative: d(logit of class 1) / d(last-stage activations)
      const selector = tf.oneHot(tf.tensor1d([1, 1, 1, 1], 'int32'), 2);
      const grad = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(classifier.classify(a as tf.Tensor4D), selector)),
      )(last);
      return {
        logits: classifier.logits(x, false),
        stages: features.map((f) => f.shape),
        gradient: grad,
      };
    });
    expect(logits.shape).toEqual([B, 2]);
    expect(stages).toEqual([
      [B, 8, 8, 8],
      [B, 4, 4, 16],
      [B, 2, 2, 32],
      [B, 1, 1, 64],
    ]);
    expect(gradient.shape).toEqual([B, 1, 1, 64]);
    expect(tf.tidy(() => tf.max(tf.abs(gradient)).dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([logits, gradient]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    classifier.dispose();
  });

  it('takes a SimCLR backbone, running statistics included, and computes the same features', () => {
    const pretrained = new SimCLRNetwork({ ...MODEL, seed: 11 });
    tf.tidy(() => pretrained.embed(images(3), true)); // moves the running statistics
    const classifier = new ResNetClassifier({ ...MODEL, numClasses: 2, seed: 12 });
    const encoderWeights = [...pretrained.namedWeights()].filter(([name]) =>
      name.startsWith('encoder.'),
    );
    expect(encoderWeights.some(([name]) => name.endsWith('moving_mean'))).toBe(true);
    const head = classifier.namedWeights().get('head.fc.kernel')?.dataSync().slice();
    expect(classifier.loadEncoder(new Map(encoderWeights))).toBe(encoderWeights.length);
    expect(classifier.namedWeights().get('head.fc.kernel')?.dataSync()).toEqual(head);
    const x = images(4);
    const difference = tf.tidy(() => {
      const a = pretrained.encoder.apply(x, { training: false }) as tf.Tensor[];
      const b = classifier.features(x, false);
      return tf.max(tf.abs(tf.sub(a[3] as tf.Tensor, b[3] as tf.Tensor))).dataSync()[0];
    });
    expect(difference).toBe(0);
    expect(() => classifier.loadEncoder(new Map())).toThrow(
      'the pre-trained weights has no encoder.conv1.kernel',
    );
    x.dispose();
    pretrained.dispose();
    classifier.dispose();
  });
});
