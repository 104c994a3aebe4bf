import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignByName, loadTensors, saveTensors } from '../checkpoint.js';
import type { ParamLayer } from '../convnext/param-layer.js';
import { randomTensor } from '../random-tensor.test-support.js';
import { MaeDecoder } from './decoder.js';
import { ViTEncoder } from './encoder.js';
import { MFF_LAYERS_VIT_B, MultiLevelFusion, mffFusionLayers } from './fusion.js';
import { sincosPositionEmbedding } from './init.js';
import { keptIds, maeRandomMask, restoreIds } from './random-masking.js';
import { selfAttention, transformerBlockWeights } from './transformer.js';

/** A tiny ViT: 32 px, patch 8 (4 x 4 grid, 16 tokens), width 32, 4 blocks of 4 heads. */
const SMALL = { imageSize: 32, patchSize: 8, width: 32, depth: 4, heads: 4 };
const B = 2;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function expectClose(actual: number[][], expected: number[][], digits: number): void {
  expect(actual.map((row) => row.length)).toEqual(expected.map((row) => row.length));
  for (const [i, row] of actual.entries()) {
    for (const [k, value] of row.entries()) {
      expect(value).toBeCloseTo((expected[i] as number[])[k] as number, digits);
    }
  }
}

const image = (seed = 1) => randomTensor([B, 32, 32, 1], seed) as tf.Tensor4D;
const mask = () => maeRandomMask(B, 16, 0.75, new Random(3));

describe('sin-cos position embedding', () => {
  it("is MAE's: cls row zero, column in the first half, row in the second", () => {
    // width 8: quarter 2, ω = [1, 10000^(-1/2)]
    const table = sincosPositionEmbedding(8, 2).arraySync()[0] as number[][];
    const w = [1, 0.01];
    const encode = (p: number) => [
      ...w.map((x) => Math.sin(p * x)),
      ...w.map((x) => Math.cos(p * x)),
    ];
    expect(table).toHaveLength(5);
    expect(table[0]).toEqual(Array(8).fill(0));
    const expected = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ].map(([r, c]) => [...encode(c as number), ...encode(r as number)]);
    expectClose(table.slice(1), expected, 6);
    expect(() => sincosPositionEmbedding(6, 2)).toThrow(/divisible by 4/);
  });
});

describe('MFF fusion layers', () => {
  it("are MMPreTrain's 0, 2, 4, 6, 8, 11 for ViT-B and evenly spaced below 12 blocks", () => {
    expect(mffFusionLayers(12)).toEqual([...MFF_LAYERS_VIT_B]);
    expect(mffFusionLayers(24)).toEqual([0, 2, 4, 6, 8, 23]);
    expect(mffFusionLayers(8)).toEqual([0, 1, 3, 4, 6, 7]);
    expect(mffFusionLayers(6)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(mffFusionLayers(4)).toEqual([0, 1, 2, 3]);
    expect(mffFusionLayers(2)).toEqual([0, 1]);
    expect(mffFusionLayers(1)).toEqual([0]);
    expect(() => mffFusionLayers(0)).toThrow(/positive integer/);
  });
});

describe('multi-head self-attention', () => {
  it('matches a plain computation head by head', () => {
    const [n, d, heads] = [3, 4, 2];
    const p = transformerBlockWeights(
      (name, _shape, init) => {
        const value = init(new Random(5).fork(name));
        const variable = tf.variable(value);
        value.dispose();
        return variable;
      },
      'block',
      d,
      4,
    );
    p.qkvBias.assign(randomTensor([3 * d], 6));
    const x = randomTensor([1, n, d], 7) as tf.Tensor3D;
    const got = selfAttention(x, p, heads).arraySync()[0] as number[][];

    const rows = x.arraySync()[0] as number[][];
    const linear = (input: number[][], kernel: number[][], bias: number[]) =>
      input.map((row) =>
        bias.map((b, j) => row.reduce((s, v, i) => s + v * (kernel[i]?.[j] as number), b)),
      );
    const qkv = linear(
      rows,
      p.qkvKernel.arraySync() as number[][],
      p.qkvBias.arraySync() as number[],
    );
    const headWidth = d / heads;
    const merged = rows.map(() => new Array<number>(d).fill(0));
    for (let h = 0; h < heads; h++) {
      const part = (which: number, i: number) =>
        (qkv[i] as number[]).slice(which * d + h * headWidth, which * d + (h + 1) * headWidth);
      for (let i = 0; i < n; i++) {
        const scores = Array.from(
          { length: n },
          (_, j) =>
            part(0, i).reduce((s, q, c) => s + q * (part(1, j)[c] as number), 0) /
            Math.sqrt(headWidth),
        );
        const top = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - top));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let c = 0; c < headWidth; c++) {
          (merged[i] as number[])[h * headWidth + c] = exps.reduce(
            (s, e, j) => s + (e / total) * (part(2, j)[c] as number),
            0,
          );
        }
      }
    }
    const expected = linear(
      merged,
      p.projKernel.arraySync() as number[][],
      p.projBias.arraySync() as number[],
    );
    expectClose(got, expected, 5);
    tf.dispose([x, ...Object.values(p)]);
  });
});

describe('ViT encoder', () => {
  function encoder(args: Partial<ConstructorParameters<typeof ViTEncoder>[0]> = {}) {
    const layer = new ViTEncoder({ ...SMALL, seed: 2, ...args });
    layer.build([]);
    return layer;
  }

  it('gives every block output, cls first, on all tokens or the visible ones only', () => {
    const layer = encoder();
    const full = layer.apply(image()) as tf.Tensor[];
    expect(full.map((t) => t.shape)).toEqual(Array(4).fill([B, 17, 32]));
    const ids = keptIds(mask());
    const visible = layer.apply([image(), ids]) as tf.Tensor[];
    expect(visible.map((t) => t.shape)).toEqual(Array(4).fill([B, 5, 32]));
    tf.dispose([...full, ...visible, ids]);
  });

  it('never sees the removed patches: their pixels do not change the output', () => {
    const layer = encoder();
    const m = mask();
    // image 2 differs from image 1 only inside patches removed from both images
    const keepPixels = tf.tidy(() => {
      const grid = tf.tensor4d(
        m.mask.flatMap((row) => row.map((removed) => 1 - removed)),
        [B, 4, 4, 1],
      );
      return tf.reshape(tf.tile(tf.reshape(grid, [B, 4, 1, 4, 1, 1]), [1, 1, 8, 1, 8, 1]), [
        B,
        32,
        32,
        1,
      ]);
    });
    const changed = tf.add(
      tf.mul(image(1), keepPixels),
      tf.mul(image(2), tf.sub(1, keepPixels)),
    ) as tf.Tensor4D;
    const ids = keptIds(m);
    const difference = tf.tidy(() => {
      const a = layer.apply([image(1), ids]) as tf.Tensor[];
      const b = layer.apply([changed, ids]) as tf.Tensor[];
      return tf.max(tf.abs(tf.sub(a[3] as tf.Tensor, b[3] as tf.Tensor))).dataSync()[0];
    });
    expect(difference).toBe(0);
    tf.dispose([keepPixels, changed, ids]);
  });

  it('keeps the sin-cos positions fixed unless asked to learn them', () => {
    const trainable = (layer: ViTEncoder) => layer.trainableVariables().length;
    const fixed = encoder();
    const learnt = encoder({ learnPositions: true });
    expect(trainable(learnt)).toBe(trainable(fixed) + 1);
    expect(fixed.namedWeights().get('pos_embed')?.trainable).toBe(false);
    expect(encoder({ finalNorm: false }).namedWeights().has('norm.gamma')).toBe(false);
    expect(() =>
      encoder({ finalNorm: false }).normalize(tf.zeros([1, 2, 32]) as tf.Tensor3D),
    ).toThrow(/without its final norm/);
  });

  it('draws stochastic depth from its seed in training only', () => {
    const layer = encoder({ dropPathRate: 0.9 });
    const run = (training: boolean) =>
      tf.tidy(() => (layer.apply(image(), { training }) as tf.Tensor[])[3]?.arraySync());
    expect(run(false)).toEqual(run(false));
    layer.reseedDropPath(1);
    const first = run(true);
    layer.reseedDropPath(1);
    expect(run(true)).toEqual(first);
    expect(first).not.toEqual(run(false));
  });

  it('rejects sizes that do not fit', () => {
    expect(() => new ViTEncoder({ ...SMALL, imageSize: 30, seed: 1 })).toThrow(
      /multiple of the patch/,
    );
    expect(() => new ViTEncoder({ ...SMALL, heads: 3, seed: 1 })).toThrow(/divisible by 3 heads/);
  });
});

/** Every output of a layer as a list; the encoder's final norm runs on its last block. */
function outputsOf(layer: ParamLayer, x: tf.Tensor[]): tf.Tensor[] {
  const out = layer.apply(x.length === 1 ? (x[0] as tf.Tensor) : x, { training: true });
  if (!(layer instanceof ViTEncoder)) return [out as tf.Tensor];
  const levels = out as tf.Tensor3D[];
  return [...levels, layer.normalize(levels[levels.length - 1] as tf.Tensor3D)];
}

/** The layer contract, for each layer: shape, a training step, save/load, no leaks. */
describe.each<[string, () => ParamLayer, () => tf.Tensor[], number[][]]>([
  [
    'ViT encoder',
    () => new ViTEncoder({ ...SMALL, seed: 2 }),
    () => [image(), keptIds(mask())],
    Array(5).fill([B, 5, 32]),
  ],
  [
    'multi-level fusion',
    () => new MultiLevelFusion({ width: 32, levels: 3, seed: 2 }),
    () => [0, 1, 2].map((k) => randomTensor([B, 5, 32], 10 + k)),
    [[B, 5, 32]],
  ],
  [
    'MAE decoder',
    () =>
      new MaeDecoder({
        encoderWidth: 32,
        width: 16,
        depth: 1,
        heads: 2,
        patchSize: 8,
        gridSize: 4,
        seed: 2,
      }),
    () => [randomTensor([B, 5, 32], 4), restoreIds(mask())],
    [[B, 16, 64]],
  ],
])('%s layer', (_name, make, inputs, shapes) => {
  function built(): ParamLayer {
    const layer = make();
    layer.build([]);
    return layer;
  }
  const meanSquare = (layer: ParamLayer, x: tf.Tensor[]) =>
    tf.addN(outputsOf(layer, x).map((o) => tf.mean(tf.square(o)))) as tf.Scalar;

  it('gives its output shape', () => {
    const layer = built();
    const x = inputs();
    const out = outputsOf(layer, x);
    expect(out.map((o) => o.shape)).toEqual(shapes);
    tf.dispose([...out, ...x]);
  });

  it('trains every weight in a step, lowering its loss, and leaks no tensor', () => {
    const layer = built();
    const x = inputs();
    const variables = layer.trainableVariables();
    const optimizer = tf.train.sgd(0.05);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => meanSquare(layer, x), variables);
        expect(variables.filter((v) => !grads[v.name]).map((v) => v.name)).toEqual([]);
        optimizer.applyGradients(grads);
        return value.dataSync()[0] as number;
      });
    const before = tf.memory().numTensors;
    const first = step();
    expect(tf.memory().numTensors).toBe(before);
    const second = step();
    expect(second).toBeLessThan(first);
    tf.dispose(x);
    optimizer.dispose();
  });

  it('round-trips through its config and a checkpoint file', () => {
    const original = built();
    const cls = original.constructor as unknown as typeof ParamLayer &
      tf.serialization.SerializableConstructor<ParamLayer>;
    expect(tf.serialization.SerializationMap.getMap().classNameMap[cls.className]).toBeDefined();
    const restored = cls.fromConfig(cls, original.getConfig()) as ParamLayer;
    restored.build([]);
    const file = join(mkdtempSync(join(tmpdir(), 'vit-layer-')), 'weights.bin');
    saveTensors(file, original.namedWeights());
    const { tensors } = loadTensors(file);
    assignByName(restored.namedWeights(), tensors, file);
    tf.dispose([...tensors.values()]);
    const x = inputs();
    const before = tf.memory().numTensors;
    const difference = tf.tidy(() => {
      const a = outputsOf(original, x);
      const b = outputsOf(restored, x);
      return Math.max(
        ...a.map((o, i) => tf.max(tf.abs(tf.sub(o, b[i] as tf.Tensor))).dataSync()[0] as number),
      );
    });
    expect(difference).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
  });
});

describe('multi-level fusion weights', () => {
  it('start uniform, are a softmax, and stay fixed for a single level', () => {
    const fusion = new MultiLevelFusion({ width: 8, levels: 4, seed: 1 });
    fusion.build([]);
    expect(fusion.fusionWeights()).toEqual([0.25, 0.25, 0.25, 0.25]);
    (fusion.namedWeights().get('weights') as tf.Variable).assign(
      tf.tensor2d([[0], [0], [0], [Math.log(5)]]),
    );
    const weights = fusion.fusionWeights();
    expect(weights[3]).toBeCloseTo(5 / 8, 6);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const single = new MultiLevelFusion({ width: 8, levels: 1, seed: 1 });
    single.build([]);
    expect(single.trainableVariables()).toEqual([]);
    expect(single.fusionWeights()).toEqual([1]);
  });
});
