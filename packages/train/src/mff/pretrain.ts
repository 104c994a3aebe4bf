import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type GrayImage, normalize, randomFlip } from '@masksweep/data';
import {
  assignByName,
  loadTensors,
  MffNetwork,
  readCheckpointMeta,
  removedMap,
  saveTensors,
  type ViTConfig,
} from '@masksweep/models';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { epochBatches, imageBatch, stagePlan } from '../batches.js';
import { optimizerStep } from '../optimizer-step.js';
import { createOptimizer, type Optimizer } from '../optimizers.js';
import {
  optimizerType,
  type PretrainResult,
  type StageConfig,
  type StepEvent,
} from '../pretrain.js';
import {
  PretrainingMissingError,
  type PretrainingRun,
  type RunPretrainingOptions,
} from '../trial.js';
import { randomCropReflectPadded } from './augment.js';
import { maeReconstructionLoss } from './loss.js';

/**
 * MAE's parameters without weight decay (ALGORITHMS.md 7: ln, bias, pos_embed, mask_token,
 * cls_token); LayerNorm weights are 1-D, which the optimiser never decays anyway.
 */
export const VIT_NO_DECAY_NAMES = /cls_token|pos_embed|mask_token|bias/;

/** MAE's AdamW betas (0.9, 0.95), used when the stage's optimiser is AdamW. */
export const MAE_ADAMW_BETAS: readonly [number, number] = [0.9, 0.95];

export interface MffStepEvent extends StepEvent {
  /** softmax of the fusion weights in this step's forward, shallowest fused block first. */
  fusionWeights: number[];
}

export interface MffPretrainOptions {
  model: ViTConfig;
  stage: StageConfig;
  /** Gray images in [0, 1] at the training size (not normalised). */
  images: readonly GrayImage[];
  seed: number;
  /** Where the resumable checkpoint lives; a run finding one there continues after its epoch. */
  checkpointFile?: string;
  onStep?: (event: MffStepEvent) => void;
  onEpoch?: (event: { epoch: number; meanLoss: number; fusionWeights: number[] }) => void;
}

export type MffPretrainResult = Omit<PretrainResult, 'network'> & { network: MffNetwork };

/**
 * MFF pre-training (ALGORITHMS.md 7): each batch is cropped from its reflect-padded image
 * and flipped, normalised, masked with MAE's random mask (75 % by default), encoded on its
 * visible tokens, fused and decoded; the normalised-pixel loss on the removed patches drives
 * the optimiser. The same contract as SparK's `pretrainSpark`: warm-up and schedule from the
 * stage, DivergedError on a non-finite loss or gradient, a resumable checkpoint per epoch,
 * every random draw from the seed and the epoch.
 */
export async function pretrainMff(options: MffPretrainOptions): Promise<MffPretrainResult> {
  const { stage, images, seed } = options;
  if (images.length === 0) throw new RangeError('pre-training needs at least one image');
  const size = (images[0] as GrayImage).width;
  const network = new MffNetwork({ ...options.model, imageSize: size, seed });
  const named = [...network.namedWeights()].filter(([, v]) => v.trainable);
  const type = optimizerType(stage.optimizer);
  const optimizer = createOptimizer(
    {
      type,
      lr: stage.lr,
      weightDecay: stage.weightDecay,
      noDecayNames: VIT_NO_DECAY_NAMES,
      ...(type === 'adamw' ? { betas: MAE_ADAMW_BETAS } : {}),
    },
    named.map(([name, variable]) => ({ name, variable })),
  );
  const { stepsPerEpoch, totalSteps, lrAt, weightDecayAt } = stagePlan(stage, images.length);
  const patchSize = options.model.patchSize;

  const result: MffPretrainResult = { network, epochLosses: [], stepLosses: [] };
  let firstEpoch = 0;
  if (options.checkpointFile && existsSync(options.checkpointFile)) {
    firstEpoch = resume(options.checkpointFile, network, optimizer, result);
  }

  try {
    for (let epoch = firstEpoch; epoch < stage.epochs; epoch++) {
      const rng = new Random(seed).fork('pretrain', epoch);
      const augmentRng = rng.fork('augment');
      const maskRng = rng.fork('mask');
      let epochLoss = 0;
      const batches = epochBatches(images.length, stage.batchSize, rng.fork('order'));
      for (const [b, indices] of batches.entries()) {
        const started = performance.now();
        const step = epoch * stepsPerEpoch + b;
        const lr = lrAt(step);
        const views = indices.map((i) =>
          normalize(
            randomFlip(randomCropReflectPadded(images[i] as GrayImage, augmentRng), augmentRng),
          ),
        );
        const mask = network.drawMask(indices.length, maskRng);
        // Read before the update: the weights this step's forward fuses with.
        const fusionWeights = network.fusionWeights();
        const loss = tf.tidy(() => {
          const x = imageBatch(views);
          const removed = removedMap(mask);
          return optimizerStep(
            () => maeReconstructionLoss(network.reconstruct(x, mask, true), x, removed, patchSize),
            named,
            optimizer,
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
          fusionWeights,
        });
        // Let timers and I/O (progress, metrics) run between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const meanLoss = epochLoss / batches.length;
      result.epochLosses.push(meanLoss);
      options.onEpoch?.({ epoch, meanLoss, fusionWeights: network.fusionWeights() });
      if (options.checkpointFile)
        checkpoint(options.checkpointFile, network, optimizer, result, epoch);
    }
  } finally {
    optimizer.dispose();
  }
  return result;
}

// checkpoint() and resume() are pretrain.ts's, which types them on SparKNetwork: once it
// types them on `{ namedWeights() }` and exports them, these two go.
function checkpoint(
  file: string,
  network: MffNetwork,
  optimizer: Optimizer,
  result: MffPretrainResult,
  epoch: number,
): void {
  const state = optimizer.state();
  const tensors = new Map<string, tf.Tensor>([
    ...[...network.namedWeights()].map(([name, v]) => [`net.${name}`, v] as [string, tf.Tensor]),
    ...Object.entries(state).map(([name, t]) => [`opt.${name}`, t] as [string, tf.Tensor]),
  ]);
  saveTensors(file, tensors, {
    epoch,
    epochLosses: result.epochLosses,
    stepLosses: result.stepLosses,
  });
  tf.dispose(Object.values(state));
}

/** Restores weights, optimiser state and curves; returns the epoch to continue from. */
function resume(
  file: string,
  network: MffNetwork,
  optimizer: Optimizer,
  result: MffPretrainResult,
): number {
  const { tensors, meta } = loadTensors(file);
  try {
    const prefixed = (prefix: string) =>
      new Map(
        [...tensors]
          .filter(([n]) => n.startsWith(prefix))
          .map(([n, t]) => [n.slice(prefix.length), t]),
      );
    assignByName(network.namedWeights(), prefixed('net.'), file);
    optimizer.loadState(Object.fromEntries(prefixed('opt.')));
  } finally {
    tf.dispose([...tensors.values()]);
  }
  result.epochLosses.push(...(meta.epochLosses as number[]));
  result.stepLosses.push(...(meta.stepLosses as number[]));
  return (meta.epoch as number) + 1;
}

export interface RunMffPretrainingOptions extends Omit<RunPretrainingOptions, 'onStep'> {
  onStep?: (event: MffStepEvent) => void;
}

/**
 * The pre-training stage of an MFF trial, as `runPretraining` is SparK's: trains and stores
 * the network under `<artifactDir>/pretrain/<pretrainKey>/weights.bin` (every weight by
 * name: `encoder.*`, which fine-tuning loads, `fusion.*`, `decoder.*`), resuming from
 * `checkpoint.bin` beside it; or reuses the stored weights. The fusion weights of the last
 * step are in the file's metadata; each step's are in the step events.
 */
export async function runMffPretraining(
  options: RunMffPretrainingOptions,
): Promise<PretrainingRun> {
  const { trial, log = () => {} } = options;
  const { config } = trial;
  if (config.method !== 'mff')
    throw new RangeError(`trial ${trial.name} is ${config.method}, not an MFF trial`);
  const pretrainDir = join(options.artifactDir, 'pretrain', trial.pretrainKey);
  const weightsFile = join(pretrainDir, 'weights.bin');
  const checkpointFile = join(pretrainDir, 'checkpoint.bin');
  const started = performance.now();
  if (existsSync(weightsFile)) {
    log(`pre-training ${trial.pretrainKey} reused from ${weightsFile}`);
    const meta = readCheckpointMeta(weightsFile);
    return { weightsFile, reused: true, epochLosses: meta.epochLosses as number[], seconds: 0 };
  }
  if (options.mustExist) {
    throw new PretrainingMissingError(
      `pre-training ${trial.pretrainKey} is not in ${options.artifactDir}: run its stage first`,
    );
  }
  const run = await pretrainMff({
    model: config.model as ViTConfig,
    stage: config.pretrain,
    images: options.images,
    seed: config.seed,
    checkpointFile,
    onStep: options.onStep,
    onEpoch: ({ epoch, meanLoss, fusionWeights }) =>
      log(
        `pretrain epoch ${epoch + 1}/${config.pretrain.epochs}: loss ${meanLoss.toFixed(4)}, fusion weights ${fusionWeights.map((w) => w.toFixed(3)).join(' ')}`,
      ),
  });
  saveTensors(weightsFile, run.network.namedWeights(), {
    epochLosses: run.epochLosses,
    stepLosses: run.stepLosses,
    pretrainKey: trial.pretrainKey,
    fusionLayers: run.network.fusionLayers,
    fusionWeights: run.network.fusionWeights(),
  });
  run.network.dispose();
  // The finished weights supersede the resumable checkpoint.
  rmSync(checkpointFile, { force: true });
  return {
    weightsFile,
    reused: false,
    epochLosses: run.epochLosses,
    seconds: (performance.now() - started) / 1000,
  };
}
