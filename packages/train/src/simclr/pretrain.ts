import { existsSync } from 'node:fs';
import { type GrayImage, normalize } from '@masksweep/data';
import { type SimCLRConfig, SimCLRNetwork } from '@masksweep/models';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { epochBatches, imageBatch, stagePlan } from '../batches.js';
import { optimizerStep } from '../optimizer-step.js';
import { createOptimizer, type Optimizer } from '../optimizers.js';
import { optimizerType, type StageConfig, type StepEvent } from '../pretrain.js';
import { createLarsOptimizer } from './lars.js';
import { ntXentLoss, SIMCLR_TEMPERATURE } from './nt-xent.js';
import { resumeStageCheckpoint, saveStageCheckpoint } from './stage-checkpoint.js';
import { type SimclrViewOptions, simclrViews } from './views.js';

export interface SimclrPretrainOptions {
  /** The ResNet and its projection neck. */
  model: Omit<SimCLRConfig, 'seed'>;
  /** MMPreTrain's recipe: LARS, lr 0.3 x batch / 256, weight decay 1e-6, warm-up, cosine. */
  stage: StageConfig;
  /** Gray images in [0, 1] at the training size (not normalised). */
  images: readonly GrayImage[];
  seed: number;
  /** NT-Xent's temperature. @default SIMCLR_TEMPERATURE (0.1) */
  temperature?: number;
  /** The two-view augmentation; the output size is the images' own. */
  views?: Omit<SimclrViewOptions, 'size'>;
  /** Where the resumable checkpoint lives; a run finding one there continues after its epoch. */
  checkpointFile?: string;
  onStep?: (event: StepEvent) => void;
  onEpoch?: (event: { epoch: number; meanLoss: number }) => void;
}

export interface SimclrPretrainResult {
  /** Its `encoder.*` weights are the backbone fine-tuning loads (ResNetClassifier.loadEncoder). */
  network: SimCLRNetwork;
  /** Mean loss per epoch, resumed epochs included. */
  epochLosses: number[];
  stepLosses: number[];
}

/** The optimizer of a SimCLR stage: LARS, or one of ../optimizers.ts by name. */
export function simclrStageOptimizer(
  stage: Pick<StageConfig, 'optimizer' | 'lr' | 'weightDecay'>,
  named: ReadonlyArray<[string, tf.Variable]>,
): Omit<Optimizer, 'config'> {
  const params = named.map(([name, variable]) => ({ name, variable }));
  const { lr, weightDecay } = stage;
  if (stage.optimizer === 'lars') return createLarsOptimizer({ lr, weightDecay }, params);
  return createOptimizer({ type: optimizerType(stage.optimizer), lr, weightDecay }, params);
}

/**
 * SimCLR pre-training (ALGORITHMS.md 6): each image of a batch gives two augmented views,
 * both go through the ResNet and the neck together (rows 2k and 2k + 1 are image k's), and
 * NT-Xent over the 2N embeddings drives the optimizer. Same contract as SparK's
 * pretrainSpark: the stage's warm-up and schedule, DivergedError on a NaN or infinite loss,
 * a checkpoint after every epoch, and every random draw from the seed and the epoch, so a
 * resumed run continues exactly as the uninterrupted one would have.
 */
export async function runSimclrPretraining(
  options: SimclrPretrainOptions,
): Promise<SimclrPretrainResult> {
  const { stage, images, seed } = options;
  if (images.length === 0) throw new RangeError('pre-training needs at least one image');
  const size = (images[0] as GrayImage).width;
  const temperature = options.temperature ?? SIMCLR_TEMPERATURE;
  const network = new SimCLRNetwork({ ...options.model, seed });
  const named = [...network.namedWeights()].filter(([, v]) => v.trainable);
  const optimizer = simclrStageOptimizer(stage, named);
  const { stepsPerEpoch, totalSteps, lrAt, weightDecayAt } = stagePlan(stage, images.length);

  const result: SimclrPretrainResult = { network, epochLosses: [], stepLosses: [] };
  let firstEpoch = 0;
  if (options.checkpointFile && existsSync(options.checkpointFile)) {
    firstEpoch = resumeStageCheckpoint(
      options.checkpointFile,
      network.namedWeights(),
      optimizer,
      result,
    );
  }

  try {
    for (let epoch = firstEpoch; epoch < stage.epochs; epoch++) {
      const rng = new Random(seed).fork('simclr', epoch);
      const viewRng = rng.fork('views');
      let epochLoss = 0;
      const batches = epochBatches(images.length, stage.batchSize, rng.fork('order'));
      for (const [b, indices] of batches.entries()) {
        const started = performance.now();
        const step = epoch * stepsPerEpoch + b;
        const lr = lrAt(step);
        const views = indices.flatMap((i) =>
          simclrViews(images[i] as GrayImage, viewRng, { ...options.views, size }).map((view) =>
            normalize(view),
          ),
        );
        const loss = tf.tidy(() => {
          const x = imageBatch(views);
          return optimizerStep(
            () => ntXentLoss(network.embed(x, true), temperature),
            named,
            // optimizerStep only calls step(), which LARS has with the same signature.
            optimizer as Optimizer,
            {
              stage: 'pretrain',
              step,
              lr,
              weightDecay: weightDecayAt(step),
              gradClip: stage.gradClip,
            },
          );
        });
        epochLoss += loss;
        result.stepLosses.push(loss);
        const seconds = (performance.now() - started) / 1000;
        options.onStep?.({
          stage: 'pretrain',
          epoch,
          step,
          totalSteps,
          loss,
          lr,
          imagesPerSecond: indices.length / seconds,
        });
        // Let timers and I/O (progress, metrics) run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const meanLoss = epochLoss / batches.length;
      result.epochLosses.push(meanLoss);
      options.onEpoch?.({ epoch, meanLoss });
      if (options.checkpointFile) {
        saveStageCheckpoint(
          options.checkpointFile,
          network.namedWeights(),
          optimizer,
          result,
          epoch,
        );
      }
    }
  } catch (error) {
    // A failed run (DivergedError) returns no network: free its weights here.
    network.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
  return result;
}
