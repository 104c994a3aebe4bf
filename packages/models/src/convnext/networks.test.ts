import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClassifierHead } from './classifier-head.js';
import { SparKDecoder } from './decoder.js';
import { ConvNeXtEncoder } from './encoder.js';
import { ConvNeXtClassifier, SparKNetwork } from './networks.js';
import { maskAt } from './ops.js';
import type { ParamLayer } from './param-layer.js';

const SMALL = { depths: [1, 1, 2, 1], widths: [8, 16, 32, 64], dropPath: 0.1, decoderWidth: 32 };
const B = 2;
const SIZE = 64; // 2x2 patch grid

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomImage(seed: number, size = SIZE): tf.Tensor4D {
  const rng = new Random(seed);
  return tf.tensor4d(
    Float32Array.from({ length: B * size * size }, () => rng.normal()),
    [B, size, size, 1],
  );
}

/** Image 0 keeps patches 0 and 3 visible, image 1 patch 1 (1 = visible). */
const activeMask = () => tf.tensor4d([1, 0, 0, 1, 0, 1, 0, 0], [B, 2, 2, 1]);

/** layerScaleInit 1 makes the blocks matter at once, as in a trained network. */
function encoder(sparse: boolean, seed = 3, layerScaleInit = 1e-6) {
  const layer = new ConvNeXtEncoder({
    depths: SMALL.depths,
    widths: SMALL.widths,
    sparse,
    seed,
    layerScaleInit,
  });
  layer.build([]);
  return layer;
}

describe('sparse ConvNeXt encoder', () => {
  it('gives the four stage shapes', () => {
    const outputs = encoder(true).apply([randomImage(1), activeMask()]) as tf.Tensor[];
    expect(outputs.map((o) => o.shape)).toEqual([
      [B, 16, 16, 8],
      [B, 8, 8, 16],
      [B, 4, 4, 32],
      [B, 2, 2, 64],
    ]);
    tf.dispose(outputs);
  });

  it('is exactly zero at masked positions at every scale, and non-zero at visible ones', () => {
    const active = activeMask();
    const outputs = encoder(true).apply([randomImage(1), active]) as tf.Tensor4D[];
    for (const output of outputs) {
      const m = maskAt(active, output.shape[1]);
      const masked = tf.sum(tf.abs(tf.mul(output, tf.sub(1, m)))).dataSync()[0];
      const visible = tf.sum(tf.abs(tf.mul(output, m))).dataSync()[0];
      expect(masked).toBe(0);
      expect(visible).toBeGreaterThan(0);
    }
    tf.dispose([...outputs, active]);
  });

  it('keeps visible outputs when masked input pixels change; the dense encoder does not', () => {
    const active = activeMask();
    const pixelMask = maskAt(active, SIZE);
    const image = randomImage(1);
    // same visible pixels, other values under the mask
    const changed = tf.add(
      tf.mul(image, pixelMask),
      tf.mul(randomImage(2), tf.sub(1, pixelMask)),
    ) as tf.Tensor4D;
    for (const sparse of [true, false]) {
      const layer = encoder(sparse, 3, 1);
      const a = layer.apply([image, active]) as tf.Tensor4D[];
      const b = layer.apply([changed, active]) as tf.Tensor4D[];
      const differences = a.map((out, i) => {
        const m = maskAt(active, out.shape[1]);
        return tf.max(tf.abs(tf.mul(tf.sub(out, b[i] as tf.Tensor), m))).dataSync()[0] as number;
      });
      if (sparse) for (const d of differences) expect(d).toBe(0);
      else expect(Math.max(...differences)).toBeGreaterThan(1e-4);
      tf.dispose([...a, ...b]);
    }
  });

  it('round-trips through its config and weights', () => {
    const original = encoder(true);
    const copy = tf.serialization.SerializationMap.getMap().classNameMap[ConvNeXtEncoder.className];
    expect(copy).toBeDefined();
    const restored = ConvNeXtEncoder.fromConfig(
      ConvNeXtEncoder,
      original.getConfig(),
    ) as ConvNeXtEncoder;
    restored.build([]);
    restored.setWeights(original.getWeights());
    const input = [randomImage(5), activeMask()];
    const a = original.apply(input) as tf.Tensor[];
    const b = restored.apply(input) as tf.Tensor[];
    for (let i = 0; i < 4; i++)
      expect(tf.max(tf.abs(tf.sub(a[i] as tf.Tensor, b[i] as tf.Tensor))).dataSync()[0]).toBe(0);
    expect(restored.sparse).toBe(true);
    expect(restored.depths).toEqual(SMALL.depths);
  });

  it('draws the same weights from the same seed and others from another', () => {
    const first = (seed: number) => encoder(true, seed).getWeights()[0]?.dataSync().slice(0, 8);
    expect(first(7)).toEqual(first(7));
    expect(first(7)).not.toEqual(first(8));
  });
});

describe.each<[string, () => ParamLayer, () => tf.Tensor[]]>([
  [
    'SparK decoder',
    () => new SparKDecoder({ encoderWidths: SMALL.widths, decoderWidth: 32, seed: 2 }),
    () => [...(encoder(true).apply([randomImage(1), activeMask()]) as tf.Tensor[]), activeMask()],
  ],
  [
    'classifier head',
    () => new ClassifierHead({ inChannels: 64, numClasses: 2, seed: 2 }),
    () => [tf.randomNormal([B, 2, 2, 64], 0, 1, 'float32', 4)],
  ],
])('%s layer', (_name, make, inputs) => {
  it('round-trips through its config and weights and leaks nothing in inference', () => {
    const original = make();
    original.build([]);
    const cls = original.constructor as unknown as typeof ParamLayer &
      tf.serialization.SerializableConstructor<ParamLayer>;
    const restored = cls.fromConfig(cls, original.getConfig()) as ParamLayer;
    restored.build([]);
    restored.setWeights(original.getWeights());
    const x = inputs();
    const before = tf.memory().numTensors;
    const difference = tf.tidy(
      () =>
        tf
          .max(tf.abs(tf.sub(original.apply(x) as tf.Tensor, restored.apply(x) as tf.Tensor)))
          .dataSync()[0],
    );
    expect(difference).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('SparK network', () => {
  function reconstructionLoss(net: SparKNetwork, image: tf.Tensor4D, active: tf.Tensor4D) {
    return tf.tidy(
      () => tf.mean(tf.square(tf.sub(net.reconstruct(image, active, true), image))) as tf.Scalar,
    );
  }

  it('reconstructs the full image, trains every weight, and leaks nothing', () => {
    const net = new SparKNetwork({ ...SMALL, sparse: true, seed: 1 });
    const image = randomImage(3);
    const active = activeMask();
    const out = net.reconstruct(image, active, false);
    expect(out.shape).toEqual([B, SIZE, SIZE, 1]);
    out.dispose();

    const variables = net.trainableVariables();
    const optimizer = tf.train.adam(1e-3);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => reconstructionLoss(net, image, active),
          variables,
        );
        optimizer.applyGradients(
          grads as unknown as Parameters<typeof optimizer.applyGradients>[0],
        );
        return value.dataSync()[0] as number;
      });
    const { grads, value } = tf.variableGrads(
      () => reconstructionLoss(net, image, active),
      variables,
    );
    const missing = variables.filter((v) => !grads[v.name]);
    expect(missing.map((v) => v.name)).toEqual([]);
    tf.dispose([value, ...Object.values(grads)]);

    const first = step(); // creates the optimizer's slots
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 2; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
  });

  it("updates the decoder's running statistics in training only", () => {
    const net = new SparKNetwork({ ...SMALL, sparse: true, seed: 1 });
    const running = net.namedWeights().get('decoder.blocks.0.bn1.moving_mean') as tf.Variable;
    const before = running.dataSync().slice();
    tf.dispose(net.reconstruct(randomImage(3), activeMask(), false));
    expect(running.dataSync()).toEqual(before);
    tf.dispose(net.reconstruct(randomImage(3), activeMask(), true));
    expect(running.dataSync()).not.toEqual(before);
  });
});

describe('ConvNeXt classifier', () => {
  it('gives logits and takes a pre-trained encoder by name', () => {
    const pretrained = new SparKNetwork({ ...SMALL, sparse: true, seed: 11 });
    const classifier = new ConvNeXtClassifier({ ...SMALL, numClasses: 2, seed: 12 });
    const logits = classifier.logits(randomImage(1), false);
    expect(logits.shape).toEqual([B, 2]);
    logits.dispose();
    const encoderWeights = [...pretrained.namedWeights()].filter(([name]) =>
      name.startsWith('encoder.'),
    );
    expect(classifier.loadEncoder(new Map(encoderWeights))).toBe(encoderWeights.length);
    const name = 'encoder.stages.2.1.pw1.kernel';
    const a = pretrained.namedWeights().get(name) as tf.Variable;
    const b = classifier.namedWeights().get(name) as tf.Variable;
    expect(b.dataSync()).toEqual(a.dataSync());
  });

  it("starts every block's layer scale at the config's layerScaleInit, else at 1e-6", () => {
    const gammas = (network: ConvNeXtClassifier | SparKNetwork) =>
      [...network.namedWeights()]
        // A block's layer scale is `<block>.gamma`; a LayerNorm's is `<block>.norm.gamma`.
        .filter(([name]) => name.endsWith('.gamma') && !name.endsWith('.norm.gamma'))
        .flatMap(([, weight]) => [...weight.dataSync()]);
    const scaled = [
      new ConvNeXtClassifier({ ...SMALL, layerScaleInit: 1, numClasses: 2, seed: 12 }),
      new SparKNetwork({ ...SMALL, layerScaleInit: 1, sparse: true, seed: 11 }),
    ];
    for (const network of scaled) {
      expect(gammas(network).length).toBeGreaterThan(0);
      expect(new Set(gammas(network))).toEqual(new Set([1]));
      network.dispose();
    }
    const standard = new ConvNeXtClassifier({ ...SMALL, numClasses: 2, seed: 12 });
    expect(new Set(gammas(standard))).toEqual(new Set([Math.fround(1e-6)]));
    standard.dispose();
  });
});
