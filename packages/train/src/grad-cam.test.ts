import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { ConvNeXtClassifier, ResNetClassifier, ViTClassifier } from '@masksweep/models';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradCam, jet, overlayHeatmap } from './grad-cam.js';

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
