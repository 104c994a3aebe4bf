import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import type { AugmentationSetting } from '@masksweep/api';
import { renderPhantom } from '@masksweep/data';
import { SparKNetwork } from '@masksweep/models';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type FinetuneOptions, finetune } from './finetune.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const MODEL = { depths: [1, 1, 1, 1], widths: [8, 16, 32, 64], dropPath: 0, decoderWidth: 32 };

function phantoms(count: number, seed: number) {
  const rng = new Random(seed);
  const labels = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? 1 : 0));
  return {
    images: labels.map((l) => renderPhantom(rng, { size: 64, lesions: l * 2 }).image),
    labels,
  };
}

function options(overrides: Partial<FinetuneOptions> = {}): FinetuneOptions {
  return {
    method: 'spark',
    model: MODEL,
    numClasses: 2,
    stage: {
      epochs: 2,
      batchSize: 4,
      optimizer: 'adamw',
      lr: 1e-3,
      weightDecay: 0.05,
      warmupEpochs: 1,
      schedule: 'cosine',
    },
    augmentation: { type: 'none' },
    train: phantoms(12, 1),
    val: phantoms(6, 2),
    seed: 3,
    ...overrides,
  };
}

describe('fine-tuning', () => {
  it("weighs classes by the paper's equation 6 and validates every epoch", async () => {
    const { classWeights, epochs, classifier, val } = await finetune(options());
    // 4 positives, 8 negatives of 12: w0 = 12/8, w1 = 12/4
    expect(classWeights).toEqual([1.5, 3]);
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(epochs[0]?.val.support).toBe(6);
    // The final validation is the last epoch's, and it is the returned classifier's.
    expect(val.metrics).toEqual(epochs[1]?.val);
    const again = evaluate(classifier, options().val, 2);
    expect(val).toEqual({ metrics: again.metrics, confusion: again.confusion });
    classifier.dispose();
  });

  it.each<AugmentationSetting>([
    { type: 'randomResizedCrop', scale: [0.08, 1], ratio: [0.75, 4 / 3] },
    { type: 'randomFlip', p: 0.5 },
    { type: 'mixup', alpha: 0.8 },
    { type: 'cutmix', alpha: 1 },
  ])('trains with $type without leaking tensors per step', async (augmentation) => {
    const counts: number[] = [];
    const { classifier } = await finetune(
      options({
        augmentation,
        stage: { ...options().stage, epochs: 1 },
        onStep: () => void counts.push(tf.memory().numTensors),
      }),
    );
    expect(counts).toHaveLength(3);
    expect(new Set(counts.slice(1)).size).toBe(1);
    classifier.dispose();
  });

  it('starts from the pre-trained encoder when given one, and is deterministic under its seed', async () => {
    const spark = new SparKNetwork({ ...MODEL, sparse: true, seed: 9 });
    const pretrained = new Map([...spark.namedWeights()].filter(([n]) => n.startsWith('encoder.')));
    const stage = { ...options().stage, epochs: 1 };
    const a = await finetune(options({ pretrained, stage }));
    const b = await finetune(options({ pretrained, stage }));
    const c = await finetune(options({ stage }));
    const probe = (r: typeof a) => evaluate(r.classifier, options().val, 2).probabilities;
    expect(probe(a)).toEqual(probe(b));
    expect(probe(a)).not.toEqual(probe(c));
    for (const r of [a, b, c]) r.classifier.dispose();
    spark.dispose();
  });
});
