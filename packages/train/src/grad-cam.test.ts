import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { ConvNeXtClassifier, ResNetClassifier, ViTClassifier } from '@masksweep/models';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GradCamClassifier, gradCam, jet, overlayHeatmap } from './grad-cam.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Grad-CAM', () => {
  const classifier = () =>
    new ConvNeXtClassifier({
      depths: [1, 1, 1, 1],
      widths: [8, 16, 32, 64],
      dropPath: 0,
      decoderWidth: 32,
      numClasses: 2,
      seed: 4,
    });

  it.each([
    { backbone: 'ConvNeXt', create: classifier },
    {
      backbone: 'ResNet',
      create: () =>
        new ResNetClassifier({ depth: 18, widths: [4, 8, 16, 32], numClasses: 2, seed: 4 }),
    },
    {
      // the last block's tokens on the 4x4 patch grid
      backbone: 'ViT',
      create: () =>
        new ViTClassifier({
          patchSize: 16,
          width: 16,
          depth: 2,
          heads: 2,
          imageSize: 64,
          numClasses: 2,
          seed: 4,
        }),
    },
  ])(
    'gives one map per image at input size, scaled to [0, 1], without leaks ($backbone)',
    ({ create }) => {
      const images = tf.randomNormal([2, 64, 64, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
      const net = create();
      const before = tf.memory().numTensors;
      const maps = gradCam(net, images, [1, 0]);
      expect(maps.shape).toEqual([2, 64, 64]);
      const values = maps.dataSync();
      expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values)).toBeLessThanOrEqual(1);
      maps.dispose();
      expect(tf.memory().numTensors).toBe(before);
      net.dispose();
      images.dispose();
    },
  );

  /**
   * A stand-in classifier whose last feature map is a given activation [1, h, w, 1] and whose
   * class-0 logit is its sum: the channel weight is positive, so the map is the activation.
   */
  const fixedActivation = (activation: number[][]): GradCamClassifier => ({
    config: { numClasses: 2 },
    features: () => [
      tf.tensor4d(activation.flat(), [1, activation.length, activation[0]?.length ?? 0, 1]),
    ],
    classify: (last) => tf.concat([tf.sum(last, [1, 2]), tf.zeros([1, 1])], 1) as tf.Tensor2D,
  });
  const hotCell = (rows: number, columns: number, row: number, column: number) =>
    Array.from({ length: rows }, (_, r) =>
      Array.from({ length: columns }, (_, c) => (r === row && c === column ? 1 : 0)),
    );
  /** The map's centre of mass in pixel-centre coordinates (pixel i spans [i, i + 1]). */
  const centreOfMass = (map: Float32Array | Int32Array | Uint8Array, size: number) => {
    let total = 0;
    let y = 0;
    let x = 0;
    map.forEach((value, i) => {
      total += value;
      y += value * (Math.floor(i / size) + 0.5);
      x += value * ((i % size) + 0.5);
    });
    return { y: y / total, x: x / total };
  };

  it('puts the centre cell of an odd grid at the image centre (half-pixel centres)', () => {
    const images = tf.zeros([1, 40, 40, 1]) as tf.Tensor4D;
    const map = gradCam(fixedActivation(hotCell(5, 5, 2, 2)), images, [0]);
    const values = map.dataSync();
    // cell (2, 2) of 8-px cells covers pixels 16-23: its centre is 20, between pixels 19 and 20
    const peak = Math.max(...values);
    const peaks = [...values.keys()].filter((i) => values[i] === peak);
    expect(peaks.map((i) => [Math.floor(i / 40), i % 40])).toEqual([
      [19, 19],
      [19, 20],
      [20, 19],
      [20, 20],
    ]);
    expect(centreOfMass(values, 40)).toEqual({ y: 20, x: 20 });
    tf.dispose([images, map]);
  });

  it('puts an off-centre cell at its centre in image coordinates, within a pixel', () => {
    const images = tf.zeros([1, 64, 64, 1]) as tf.Tensor4D;
    const map = gradCam(fixedActivation(hotCell(4, 4, 1, 2)), images, [0]);
    // 16-px cells: row 1 spans 16-32, column 2 spans 32-48
    const { y, x } = centreOfMass(map.dataSync(), 64);
    expect(Math.abs(y - 24)).toBeLessThan(1);
    expect(Math.abs(x - 40)).toBeLessThan(1);
    tf.dispose([images, map]);
  });

  it('depends on the class asked for', () => {
    const images = tf.randomNormal([1, 64, 64, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    const net = classifier();
    const one = gradCam(net, images, [1]).dataSync();
    const zero = gradCam(net, images, [0]).dataSync();
    expect(one).not.toEqual(zero);
  });
});

describe('heat map overlay', () => {
  it('runs the JET colours from blue to red', () => {
    expect(jet(0)).toEqual([0, 0, 0.5]);
    expect(jet(0.5)).toEqual([0.5, 1, 0.5]);
    expect(jet(1)).toEqual([0.5, 0, 0]);
  });

  it('mixes half heat and half image, renormalised by the maximum', () => {
    const rgb = overlayHeatmap(Float32Array.from([1, 0]), Float32Array.from([1, 0]));
    // pixel 0: 0.5*[0.5,0,0] + 0.5*1 = [0.75,0.5,0.5] (the maximum); pixel 1: 0.5*[0,0,0.5] = [0,0,0.25]
    expect([...rgb]).toEqual([255, 170, 170, 0, 0, 85]);
  });
});
