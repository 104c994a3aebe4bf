import { type AugmentationSetting, METHODS, type Method, type TrialConfig } from '@masksweep/api';
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
import { ConvNeXtClassifier, ResNetClassifier, ViTClassifier } from '@masksweep/models';
import type { Random } from '@masksweep/random';
import {
  type ClassificationMetrics,
  classificationMetrics,
  confusionMatrix,
} from '@masksweep/stats';
import * as tf from '@tensorflow/tfjs-core';
import { imageBatch } from './batches.js';
import { weightedCrossEntropy } from './class-weighted-loss.js';
import { type OptimizerConfig, VIT_NO_DECAY_NAMES } from './optimizers.js';
import { createStageOptimizer } from './stage-optimizer.js';
import { type StageConfig, type StepEvent, trainEpochs } from './train-epochs.js';
import { convnextConfig, resnetConfig, vitConfig } from './trial-networks.js';

export interface LabelledImages {
  images: readonly GrayImage[];
  labels: readonly number[];
}

export interface FinetuneOptions {
  /** The trial's method: its network is the classifier's backbone (METHODS[method].model). */
  method: Method;
  /** The trial's settings of that network (the Sweep's `model.convnext`, `.resnet` or `.vit`). */
  model: TrialConfig['model'];
  numClasses: number;
  stage: StageConfig;
  augmentation: AugmentationSetting;
  train: LabelledImages;
  val: LabelledImages;
  /** Pre-trained `encoder.*` weights by name; absent for a randomly initialised baseline. */
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

/** The fine-tuning network of each pre-training method's backbone. */
export type Classifier = ConvNeXtClassifier | ResNetClassifier | ViTClassifier;

export interface FinetuneResult {
  classifier: Classifier;
  classWeights: number[];
  epochs: EpochReport[];
  /**
   * The returned classifier on the validation split, measured once at the end of fine-tuning:
   * the last epoch's validation, as nothing changes the classifier after it.
   */
  val: FinalValidation;
}

/** Metrics and confusion matrix of the fine-tuned classifier on the validation split. */
export type FinalValidation = Pick<Evaluation, 'metrics' | 'confusion'>;

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
  const { classifier, optimizerGroups } = createClassifier(options);
  if (options.pretrained) classifier.loadEncoder(options.pretrained);
  const named = [...classifier.namedWeights()].filter(([, v]) => v.trainable);
  const optimizer = createStageOptimizer(stage, named, optimizerGroups);

  const epochs: EpochReport[] = [];
  let lastValidation: FinalValidation | undefined;
  try {
    await trainEpochs({
      name: 'finetune',
      stage,
      count: train.images.length,
      seed,
      stream: 'finetune',
      named,
      optimizer,
      startEpoch: (_epoch, rng) => {
        const augmentRng = rng.fork('augment');
        return (indices) => {
          const batch = augmentBatch(indices, train, numClasses, options.augmentation, augmentRng);
          return {
            loss: () => {
              const x = imageBatch(batch.images.map((image) => normalize(image)));
              const y = tf.tensor2d(
                batch.targets.flatMap((t) => [...t]),
                [indices.length, numClasses],
              );
              return weightedCrossEntropy(classifier.logits(x, true), y, weights);
            },
          };
        };
      },
      onStep: options.onStep,
      endEpoch: ({ epoch, meanLoss, step }) => {
        const { metrics, confusion } = evaluate(classifier, options.val, numClasses);
        lastValidation = { metrics, confusion };
        const report = { epoch, step, trainLoss: meanLoss, val: metrics };
        epochs.push(report);
        options.onEpoch?.(report);
      },
    });
  } finally {
    optimizer.dispose();
  }
  // A stage of no epochs has not validated: measure the (untrained) classifier once.
  const val = lastValidation ?? evaluate(classifier, options.val, numClasses);
  return {
    classifier,
    classWeights: weights,
    epochs,
    val: { metrics: val.metrics, confusion: val.confusion },
  };
}

/**
 * The classifier of the trial's backbone, and its optimizer's weight-decay groups: the ViT's
 * are MAE's (no decay on positions, cls token and biases;
 * docs/algorithms.md#optimisers-and-schedules).
 */
function createClassifier(options: FinetuneOptions): {
  classifier: Classifier;
  optimizerGroups?: Pick<OptimizerConfig, 'noDecayNames'>;
} {
  const { model, numClasses, seed } = options;
  switch (METHODS[options.method].model) {
    case 'convnext':
      return { classifier: new ConvNeXtClassifier({ ...convnextConfig(model), numClasses, seed }) };
    case 'resnet':
      return { classifier: new ResNetClassifier({ ...resnetConfig(model), numClasses, seed }) };
    case 'vit': {
      const imageSize = (options.train.images[0] as GrayImage).width;
      return {
        classifier: new ViTClassifier({ ...vitConfig(model), imageSize, numClasses, seed }),
        optimizerGroups: { noDecayNames: VIT_NO_DECAY_NAMES },
      };
    }
  }
}

/** Predictions of the classifier (inference mode) on a labelled set, in batches. */
export function evaluate(
  classifier: Pick<Classifier, 'logits'>,
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
