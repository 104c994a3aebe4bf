import { existsSync } from 'node:fs';
import type { GrayImage } from '@masksweep/data';
import type * as tf from '@tensorflow/tfjs-core';
import type { OptimizerConfig } from './optimizers.js';
import {
  resumeStageCheckpoint,
  type StageCurves,
  saveStageCheckpoint,
} from './stage-checkpoint.js';
import { createStageOptimizer } from './stage-optimizer.js';
import {
  type StageConfig,
  type StepEvent,
  type TrainEpochsOptions,
  trainEpochs,
} from './train-epochs.js';

/** What every method's pre-training takes besides its network settings. */
export interface PretrainStageOptions {
  stage: StageConfig;
  /** Gray images in [0, 1] at the training size (not normalised). */
  images: readonly GrayImage[];
  seed: number;
  /** Where the resumable checkpoint lives; a run finding one there continues after its epoch. */
  checkpointFile?: string;
  onStep?: (event: StepEvent) => void;
  onEpoch?: (event: { epoch: number; meanLoss: number }) => void;
}

/** A finished pre-training: the network and its loss curves, resumed epochs included. */
export type PretrainRun<Network> = StageCurves & { network: Network };

/** What the stage uses of a pre-training network: its weights by checkpoint name. */
export interface NamedNetwork {
  namedWeights(): Map<string, tf.Variable>;
  dispose(): void;
}

export interface PretrainEpochsOptions
  extends PretrainStageOptions,
    Pick<TrainEpochsOptions, 'stream' | 'startEpoch'> {
  network: NamedNetwork;
  /** A network's own no-decay names and betas for the stage's optimizer (MFF's ViT). */
  optimizerGroups?: Pick<OptimizerConfig, 'noDecayNames' | 'betas'>;
}

/** The side of the pre-training images (all are one size); there must be at least one. */
export function pretrainImageSize(images: readonly GrayImage[]): number {
  const first = images[0];
  if (!first) throw new RangeError('pre-training needs at least one image');
  return first.width;
}

/**
 * A pre-training stage, the same for every method around its batches: the stage's
 * optimizer, the epochs of trainEpochs, and a checkpoint after every epoch (weights,
 * optimizer state, curves) from which a restarted run continues exactly as the
 * uninterrupted one would have. The network is freed when the stage fails (it returns none).
 */
export async function pretrainEpochs(options: PretrainEpochsOptions): Promise<StageCurves> {
  const { stage, network, checkpointFile } = options;
  const named = [...network.namedWeights()].filter(([, v]) => v.trainable);
  const optimizer = createStageOptimizer(stage, named, options.optimizerGroups);
  const curves: StageCurves = { epochLosses: [], stepLosses: [] };
  try {
    const firstEpoch =
      checkpointFile && existsSync(checkpointFile)
        ? resumeStageCheckpoint(checkpointFile, network.namedWeights(), optimizer, curves)
        : 0;
    await trainEpochs({
      name: 'pretrain',
      stage,
      count: options.images.length,
      seed: options.seed,
      stream: options.stream,
      named,
      optimizer,
      firstEpoch,
      startEpoch: options.startEpoch,
      onStep: (event) => {
        curves.stepLosses.push(event.loss);
        options.onStep?.(event);
      },
      endEpoch: ({ epoch, meanLoss }) => {
        curves.epochLosses.push(meanLoss);
        options.onEpoch?.({ epoch, meanLoss });
        if (checkpointFile)
          saveStageCheckpoint(checkpointFile, network.namedWeights(), optimizer, curves, epoch);
      },
    });
  } catch (error) {
    network.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
  return curves;
}
