import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { epochBatches, stagePlan } from './batches.js';
import { optimizerStep } from './optimizer-step.js';
import type { Optimizer } from './optimizers.js';

export interface StageConfig {
  epochs: number;
  batchSize: number;
  optimizer: string;
  lr: number;
  weightDecay: number;
  weightDecayEnd?: number;
  warmupEpochs: number;
  schedule: 'cosine' | 'constant';
  gradClip?: number;
}

export interface StepEvent {
  stage: 'pretrain' | 'finetune';
  epoch: number;
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  /** A method's own figures by metric name, e.g. MFF's fusion weights (`fusion_weight_<block>`). */
  extra?: Record<string, number>;
}

/** One batch: its loss, and figures to publish with the step. */
export interface TrainingBatch {
  /** Runs inside the step's tidy, differentiated for the named weights. */
  loss: () => tf.Scalar;
  extra?: Record<string, number>;
}

export interface TrainEpochsOptions {
  /** What the step events and DivergedError call the stage. */
  name: StepEvent['stage'];
  stage: StageConfig;
  /** Samples an epoch goes over. */
  count: number;
  seed: number;
  /** The stage's random stream: epoch e draws from `Random(seed).fork(stream, e)`. */
  stream: string;
  /** The trainable weights by name. */
  named: ReadonlyArray<[string, tf.Variable]>;
  optimizer: Pick<Optimizer, 'step'>;
  /** Where a resumed stage continues. @default 0 */
  firstEpoch?: number;
  /**
   * Starts an epoch with its random stream (to fork augmentation and mask generators from);
   * returns what a batch of sample indices trains on.
   */
  startEpoch: (epoch: number, rng: Random) => (indices: number[]) => TrainingBatch;
  /** After each epoch: its mean loss, and the stage's step count at its end. */
  endEpoch: (event: { epoch: number; meanLoss: number; step: number }) => void;
  onStep?: (event: StepEvent) => void;
}

/**
 * The epochs of a training stage, pre-training and fine-tuning alike: batches in an order
 * drawn per epoch, the stage's warm-up and schedule, DivergedError on a NaN or infinite loss
 * or gradient, a step event per batch. Every random draw comes from the seed and the epoch,
 * so a stage resumed at an epoch continues as the uninterrupted one would have.
 */
export async function trainEpochs(options: TrainEpochsOptions): Promise<void> {
  const { stage, count, named, optimizer } = options;
  const { stepsPerEpoch, totalSteps, lrAt, weightDecayAt } = stagePlan(stage, count);
  for (let epoch = options.firstEpoch ?? 0; epoch < stage.epochs; epoch++) {
    const rng = new Random(options.seed).fork(options.stream, epoch);
    const batchOf = options.startEpoch(epoch, rng);
    let epochLoss = 0;
    const batches = epochBatches(count, stage.batchSize, rng.fork('order'));
    for (const [b, indices] of batches.entries()) {
      const started = performance.now();
      const step = epoch * stepsPerEpoch + b;
      const lr = lrAt(step);
      const batch = batchOf(indices);
      const loss = tf.tidy(() =>
        optimizerStep(batch.loss, named, optimizer, {
          stage: options.name,
          step,
          lr,
          weightDecay: weightDecayAt(step),
          gradClip: stage.gradClip,
        }),
      );
      epochLoss += loss;
      const seconds = (performance.now() - started) / 1000;
      options.onStep?.({
        stage: options.name,
        epoch,
        step,
        totalSteps,
        loss,
        lr,
        imagesPerSecond: indices.length / seconds,
        ...(batch.extra ? { extra: batch.extra } : {}),
      });
      // Let timers and I/O (progress, metrics) run between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    options.endEpoch({
      epoch,
      meanLoss: epochLoss / batches.length,
      step: (epoch + 1) * stepsPerEpoch,
    });
  }
}
