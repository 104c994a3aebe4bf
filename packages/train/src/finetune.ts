import type { AugmentationSetting } from '@masksweep/api';
import {
  cutmix,
  type GrayImage,
  classWeights as inverseFrequencyWeights,
  mixup,
  normalize,
  oneHot,
  randomFlip,
  randomResizedCrop,
} from '@masksweep/data';
import { ConvNeXtClassifier, type ConvNeXtConfig } from '@masksweep/models';
import { Random } from '@masksweep/random';
import {
  type ClassificationMetrics,
  classificationMetrics,
  confusionMatrix,
} from '@masksweep/stats';
import * as tf from '@tensorflow/tfjs-core';
import { epochBatches, imageBatch, stagePlan } from './batches.js';
import { weightedCrossEntropy } from './class-weighted-loss.js';
import { optimizerStep } from './optimizer-step.js';
import { createOptimizer } from './optimizers.js';
import { optimizerType, type StageConfig, type StepEvent } from './pretrain.js';

export interface LabelledImages {
  images: readonly GrayImage[];
  labels: readonly number[];
}

export interface FinetuneOptions {
  model: ConvNeXtConfig;
  numClasses: number;
  stage: StageConfig;
  augmentation: AugmentationSetting;
  train: LabelledImages;
  val: LabelledImages;
  /** Pre-trained encoder weights by name; absent for a randomly initialised baseline. */
  pretrained?: Map<string, tf.Tensor>;
  seed: number;
  onStep?: (event: StepEvent) => void;
  onEpoch?: (event: EpochReport) => void;
}

export interface EpochReport {
  epoch: number;
  /** The stage's step count at the end of the epoch. */
  step: number;
  trainLoss: number;
  val: ClassificationMetrics;
}

export interface FinetuneResult {
  classifier: ConvNeXtClassifier;
  classWeights: number[];
  epochs: EpochReport[];
}

export interface Evaluation {
  labels: number[];
  predictions: number[];
  /** Softmax probabilities, one row per sample. */
  probabilities: number[][];
  confusion: number[][];
  metrics: ClassificationMetrics;
}

/**
 * Fine-tuning with class-weighted cross entropy (the paper's equation 6 weights, MMPreTrain's
 * reduction), the trial's augmentation, and validation after every epoch.
 */
export async function finetune(options: FinetuneOptions): Promise<FinetuneResult> {
  const { stage, train, seed, numClasses } = options;
  if (train.images.length === 0) throw new RangeError('fine-tuning needs training images');
  const counts = Array.from(
    { length: numClasses },
    (_, c) => train.labels.filter((l) => l === c).length,
  );
  const weights = inverseFrequencyWeights(counts);
  const classifier = new ConvNeXtClassifier({ ...options.model, numClasses, seed });
  if (options.pretrained) classifier.loadEncoder(options.pretrained);
  const named = [...classifier.namedWeights()].filter(([, v]) => v.trainable);
  const optimizer = createOptimizer(
    { type: optimizerType(stage.optimizer), lr: stage.lr, weightDecay: stage.weightDecay },
    named.map(([name, variable]) => ({ name, variable })),
  );
  const { stepsPerEpoch, totalSteps, lrAt, weightDecayAt } = stagePlan(stage, train.images.length);

  const result: FinetuneResult = { classifier, classWeights: weights, epochs: [] };
  try {
    for (let epoch = 0; epoch < stage.epochs; epoch++) {
      const rng = new Random(seed).fork('finetune', epoch);
      const augmentRng = rng.fork('augment');
      let epochLoss = 0;
      const batches = epochBatches(train.images.length, stage.batchSize, rng.fork('order'));
      for (const [b, indices] of batches.entries()) {
        const started = performance.now();
        const step = epoch * stepsPerEpoch + b;
        const lr = lrAt(step);
        const batch = augmentBatch(indices, train, numClasses, options.augmentation, augmentRng);
        const loss = tf.tidy(() => {
          const x = imageBatch(batch.images.map((image) => normalize(image)));
          const y = tf.tensor2d(
            batch.targets.flatMap((t) => [...t]),
            [indices.length, numClasses],
          );
          return optimizerStep(
            () => weightedCrossEntropy(classifier.logits(x, true), y, weights),
            named,
            optimizer,
            {
              stage: 'finetune',
              step,
              lr,
              weightDecay: weightDecayAt(step),
              gradClip: stage.gradClip,
            },
          );
        });
        epochLoss += loss;
        const seconds = (performance.now() - started) / 1000;
        options.onStep?.({
          stage: 'finetune',
          epoch,
          step,
          totalSteps,
          loss,
          lr,
          imagesPerSecond: indices.length / seconds,
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      const report = {
        epoch,
        step: (epoch + 1) * stepsPerEpoch,
        trainLoss: epochLoss / batches.length,
        val: evaluate(classifier, options.val, numClasses).metrics,
      };
      result.epochs.push(report);
      options.onEpoch?.(report);
    }
  } finally {
    optimizer.dispose();
  }
  return result;
}

/** Predictions of the classifier (inference mode) on a labelled set, in batches. */
export function evaluate(
  classifier: ConvNeXtClassifier,
  set: LabelledImages,
  numClasses: number,
  batchSize = 16,
): Evaluation {
  const probabilities: number[][] = [];
  for (let start = 0; start < set.images.length; start += batchSize) {
    const slice = set.images.slice(start, start + batchSize).map((image) => normalize(image));
    const rows = tf.tidy(
      () => tf.softmax(classifier.logits(imageBatch(slice), false)).arraySync() as number[][],
    );
    probabilities.push(...rows);
  }
  const predictions = probabilities.map((row) => row.indexOf(Math.max(...row)));
  const labels = [...set.labels];
  const confusion = confusionMatrix(labels, predictions, numClasses);
  return {
    labels,
    predictions,
    probabilities,
    confusion,
    metrics: classificationMetrics(confusion),
  };
}

/** The trial's augmentation on one batch: per image (crop, flip) or per batch (Mixup, CutMix). */
function augmentBatch(
  indices: number[],
  set: LabelledImages,
  numClasses: number,
  augmentation: AugmentationSetting,
  rng: Random,
): { images: GrayImage[]; targets: Float32Array[] } {
  let images = indices.map((i) => set.images[i] as GrayImage);
  const targets = indices.map((i) => oneHot(set.labels[i] as number, numClasses));
  const size = (images[0] as GrayImage).width;
  switch (augmentation.type) {
    case 'none':
      return { images, targets };
    case 'randomResizedCrop':
      images = images.map((image) =>
        randomResizedCrop(image, rng, {
          size,
          scale: augmentation.scale,
          ratio: augmentation.ratio,
        }),
      );
      return { images, targets };
    case 'randomFlip':
      return {
        images: images.map((image) => randomFlip(image, rng, { p: augmentation.p })),
        targets,
      };
    case 'mixup':
    case 'cutmix': {
      const mix = augmentation.type === 'mixup' ? mixup : cutmix;
      const mixed = mix({ images, labels: targets }, rng, { alpha: augmentation.alpha as number });
      return { images: mixed.images, targets: mixed.labels };
    }
  }
}
