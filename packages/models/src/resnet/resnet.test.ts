import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignByName, loadTensors, saveTensors } from '../checkpoint.js';
import type { ParamLayer } from '../convnext/param-layer.js';
import { randomTensor } from '../random-tensor.test-support.js';
import { LinearHead } from './linear-head.js';
import { NonLinearNeck } from './non-linear-neck.js';
import { ResNet, type ResNetDepth } from './resnet.js';

const WIDTHS = [8, 16, 32, 64];
const B = 4;
const SIZE = 32;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function resnet(depth: ResNetDepth, seed = 3, zeroInitResidual = true): ResNet {
  const layer = new ResNet({ depth, widths: WIDTHS, seed, zeroInitResidual });
  layer.build([]);
  return layer;
}

/** The last output of a layer applied to tensors (the ResNet gives its four stages). */
function lastOutput(output: ReturnType<ParamLayer['apply']>): tf.Tensor {
  const outputs = (Array.isArray(output) ? output : [output]) as tf.Tensor[];
  return outputs[outputs.length - 1] as tf.Tensor;
}

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('ResNet backbone', () => {
  it.each<[ResNetDepth, number]>([
    [18, 1],
    [50, 4],
  ])('ResNet-%i gives four stages at strides 4-32 with width x %i channels', (depth, expansion) => {
    const layer = resnet(depth);
    const outputs = layer.apply(randomTensor([2, SIZE, SIZE, 1], 1)) as tf.Tensor[];
    expect(outputs.map((o) => o.shape)).toEqual(
      WIDTHS.map((w, i) => [2, SIZE / 2 ** (i + 2), SIZE / 2 ** (i + 2), w * expansion]),
    );
    expect(layer.featureChannels).toBe(64 * expansion);
    expect(layer.computeOutputShape([2, SIZE, SIZE, 1])).toEqual(outputs.map((o) => o.shape));
    tf.dispose(outputs);
  });

  it('pads like PyTorch: odd sizes round up at every stride-2 step', () => {
    const outputs = resnet(18).apply(randomTensor([1, 40, 40, 1], 1)) as tf.Tensor[];
    // 40 -> 20 (stem) -> 10 (pool) -> 5 -> 3 -> 2
    expect(outputs.map((o) => o.shape[1])).toEqual([10, 5, 3, 2]);
    tf.dispose(outputs);
  });

  it('names weights as MMPreTrain and zero-initialises the last BN of every block', () => {
    const basic = resnet(18).namedWeights();
    const bottleneck = resnet(50).namedWeights();
    const gammaSum = (weights: Map<string, tf.Variable>, name: string) =>
      tf.sum(weights.get(name) as tf.Variable).dataSync()[0];
    expect(gammaSum(basic, 'layer1.0.bn2.gamma')).toBe(0);
    expect(gammaSum(basic, 'layer1.0.bn1.gamma')).toBe(8);
    expect(gammaSum(basic, 'bn1.gamma')).toBe(8);
    expect(gammaSum(bottleneck, 'layer4.2.bn3.gamma')).toBe(0);
    expect(gammaSum(bottleneck, 'layer4.2.bn2.gamma')).toBe(64);
    expect(gammaSum(bottleneck, 'layer4.0.downsample.1.gamma')).toBe(256);
    // ResNet-18's first stage keeps its width and stride: no projection shortcut there.
    expect(basic.has('layer1.0.downsample.0.kernel')).toBe(false);
    expect(basic.get('layer2.0.downsample.0.kernel')?.shape).toEqual([1, 1, 8, 16]);
    expect(basic.get('conv1.kernel')?.shape).toEqual([7, 7, 1, 8]);
    expect(basic.get('layer3.1.bn2.moving_variance')?.trainable).toBe(false);
    const zeroStart = resnet(18, 3, false).namedWeights();
    expect(gammaSum(zeroStart, 'layer1.0.bn2.gamma')).toBe(8);
  });

  it('uses batch statistics and updates the running ones in training, the running ones otherwise', () => {
    const layer = resnet(18);
    const x = randomTensor([B, SIZE, SIZE, 1], 2);
    const running = layer.namedWeights().get('bn1.moving_mean') as tf.Variable;
    const before = running.dataSync().slice();
    const inference = layer.apply(x, { training: false }) as tf.Tensor[];
    expect(running.dataSync()).toEqual(before);
    const again = layer.apply(x, { training: false }) as tf.Tensor[];
    expect(maxDifference(inference[3] as tf.Tensor, again[3] as tf.Tensor)).toBe(0);
    const training = layer.apply(x, { training: true }) as tf.Tensor[];
    expect(running.dataSync()).not.toEqual(before);
    expect(maxDifference(inference[3] as tf.Tensor, training[3] as tf.Tensor)).toBeGreaterThan(0);
    tf.dispose([...inference, ...again, ...training]);
  });

  it('refuses bad settings and inputs with precise messages', () => {
    expect(() => new ResNet({ depth: 34 as ResNetDepth, seed: 1 })).toThrow(
      'ResNet depth must be one of 18, 50, got 34',
    );
    expect(() => new ResNet({ depth: 18, widths: [8, 16, 32], seed: 1 })).toThrow(
      'ResNet widths must be 4 positive integers, got [8,16,32]',
    );
    expect(() => new ResNet({ depth: 18, inChannels: 0, seed: 1 })).toThrow(
      'ResNet inChannels must be a positive integer, got 0',
    );
    expect(() => new ResNet({ depth: 18, bnMomentum: 0, seed: 1 })).toThrow(
      'bnMomentum must be in (0, 1], got 0',
    );
    const x = tf.zeros([1, SIZE, SIZE, 3]);
    expect(() => resnet(18).apply(x)).toThrow(
      'ResNet expects [B, H, W, 1] images, got [1,32,32,3]',
    );
    expect(
      () => new NonLinearNeck({ inChannels: 8, hidChannels: 0, outChannels: 4, seed: 1 }),
    ).toThrow('NonLinearNeck hidChannels must be a positive integer, got 0');
    const neck = new NonLinearNeck({ inChannels: 8, hidChannels: 8, outChannels: 4, seed: 1 });
    neck.build([]);
    expect(() => neck.apply(tf.zeros([2, 8]))).toThrow(
      'NonLinearNeck expects [B, H, W, 8] features, got [2,8]',
    );
    expect(() => new LinearHead({ inChannels: 8, numClasses: 1.5, seed: 1 })).toThrow(
      'LinearHead numClasses must be a positive integer, got 1.5',
    );
    x.dispose();
  });
});

describe('NonLinearNeck', () => {
  it('normalises each output channel over the batch in training, and keeps running statistics', () => {
    const neck = new NonLinearNeck({
      inChannels: 6,
      hidChannels: 5,
      outChannels: 3,
      withAvgPool: false,
      seed: 2,
    });
    neck.build([]);
    const x = randomTensor([8, 6], 4) as tf.Tensor2D;
    const out = neck.apply(x, { training: true }) as tf.Tensor2D;
    expect(out.shape).toEqual([8, 3]);
    const { mean, variance } = tf.moments(out, 0);
    for (const m of mean.dataSync()) expect(Math.abs(m)).toBeLessThan(1e-5);
    // gamma 1, beta 0: the biased batch variance is 1 up to BN's epsilon
    for (const v of variance.dataSync()) expect(v).toBeCloseTo(1, 3);

    // fc0 has no bias: bn0's running mean moved 10 % of the way to the batch mean of x . fc0,
    // its running variance 10 % of the way from 1 to the unbiased batch variance.
    const weights = neck.namedWeights();
    const hidden = tf.matMul(x, weights.get('fc0.kernel') as tf.Tensor2D);
    const batch = tf.moments(hidden, 0);
    const expectedMean = tf.mul(batch.mean, 0.1);
    const expectedVariance = tf.add(0.9, tf.mul(batch.variance, (0.1 * 8) / 7));
    expect(maxDifference(weights.get('bn0.moving_mean') as tf.Variable, expectedMean)).toBeLessThan(
      1e-6,
    );
    expect(
      maxDifference(weights.get('bn0.moving_variance') as tf.Variable, expectedVariance),
    ).toBeLessThan(1e-5);
    tf.dispose([
      x,
      out,
      mean,
      variance,
      hidden,
      batch.mean,
      batch.variance,
      expectedMean,
      expectedVariance,
    ]);
  });
});

describe.each<[string, (seed: number) => ParamLayer, () => tf.Tensor]>([
  [
    'ResNet-18',
    (seed) => new ResNet({ depth: 18, widths: WIDTHS, seed }),
    () => randomTensor([B, SIZE, SIZE, 1], 5),
  ],
  [
    'ResNet-50',
    (seed) => new ResNet({ depth: 50, widths: WIDTHS, seed }),
    () => randomTensor([B, SIZE, SIZE, 1], 5),
  ],
  [
    'NonLinearNeck',
    (seed) => new NonLinearNeck({ inChannels: 64, hidChannels: 32, outChannels: 16, seed }),
    () => randomTensor([B, 2, 2, 64], 6),
  ],
  [
    'LinearHead',
    (seed) => new LinearHead({ inChannels: 64, numClasses: 2, seed }),
    () => randomTensor([B, 2, 2, 64], 7),
  ],
])('%s layer', (_name, make, input) => {
  function built(seed: number): ParamLayer {
    const layer = make(seed);
    layer.build([]);
    return layer;
  }

  it('takes a training step on every weight without leaking a tensor', () => {
    const layer = built(1);
    const x = input();
    const target = tf.tidy(() => tf.onesLike(lastOutput(layer.apply(x, { training: true }))));
    const variables = layer.trainableVariables();
    const loss = () =>
      tf.mean(
        tf.square(tf.sub(lastOutput(layer.apply(x, { training: true })), target)),
      ) as tf.Scalar;
    const optimizer = tf.train.sgd(0.05);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(loss, variables);
        expect(variables.filter((v) => !grads[v.name]).map((v) => v.name)).toEqual([]);
        optimizer.applyGradients(grads);
        return value.dataSync()[0] as number;
      });
    const first = step();
    const before = tf.memory().numTensors;
    const second = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(second).toBeLessThan(first);
    tf.dispose([x, target]);
  });

  it('round-trips through a checkpoint file and through its config', () => {
    const original = built(1);
    // One training pass, so the running statistics differ from their start.
    tf.tidy(() => {
      original.apply(input(), { training: true });
    });
    const file = join(mkdtempSync(join(tmpdir(), 'resnet-')), 'layer.bin');
    saveTensors(file, original.namedWeights());
    const cls = original.constructor as unknown as typeof ParamLayer &
      tf.serialization.SerializableConstructor<ParamLayer>;
    expect(tf.serialization.SerializationMap.getMap().classNameMap[cls.className]).toBeDefined();
    const restored = cls.fromConfig(cls, original.getConfig()) as ParamLayer;
    restored.build([]);
    expect(restored.getConfig()).toEqual(original.getConfig());
    const { tensors } = loadTensors(file);
    assignByName(restored.namedWeights(), tensors, file);
    tf.dispose([...tensors.values()]);
    const x = input();
    const before = tf.memory().numTensors;
    const difference = tf.tidy(() =>
      maxDifference(lastOutput(original.apply(x)), lastOutput(restored.apply(x))),
    );
    expect(difference).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('draws the same weights from the same seed and others from another', () => {
    const first = (seed: number) => built(seed).getWeights()[0]?.dataSync().slice(0, 8);
    expect(first(7)).toEqual(first(7));
    expect(first(7)).not.toEqual(first(8));
  });
});
