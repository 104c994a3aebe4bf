/**
 * One training step (forward, backward, update) per backend, as the trainer runs it:
 *   --task classify: a dense ConvNeXt classifier on 1-channel input, cross entropy, Adam
 *                    (the step PyTorch was measured on, docs/training.md#backend);
 *   --task pretrain: a SparK step (sparse encoder, light decoder, random 60 % mask);
 *   --task simclr:   a SimCLR step (two views per image through ResNet and neck, NT-Xent, LARS);
 *   --task mff:      an MFF step (MAE's 75 % mask, ViT on the visible tokens, fusion, MAE
 *                    decoder, normalised-pixel loss, AdamW).
 * Sizes and tasks take comma lists; the result's top-level medianMs is the first run's.
 * Network sizes default to examples/baselines-64.yaml's.
 */
import { type BackendChoice, initBackend } from '@masksweep/backend';
import {
  ConvNeXtClassifier,
  convnextEncoderMacs,
  MffNetwork,
  mffMacs,
  nonLinearNeckMacs,
  PATCH_SIZE,
  type ResNetDepth,
  removedMap,
  resnetMacs,
  SimCLRNetwork,
  SparKNetwork,
  sparkDecoderMacs,
  type ViTConfig,
} from '@masksweep/models';
import { Random } from '@masksweep/random';
import {
  createStageOptimizer,
  MAE_BETAS,
  maeReconstructionLoss,
  ntXentLoss,
  optimizerStep,
  type StageOptimizer,
  sparkReconstructionLoss,
  VIT_NO_DECAY_NAMES,
  weightedCrossEntropy,
} from '@masksweep/train';
import * as tf from '@tensorflow/tfjs-core';
import type { Benchmark } from './benchmark.js';
import { median, peakRssMiB } from './measure.js';

const list = (text: string | boolean | undefined, fallback: string) =>
  String(text ?? fallback).split(',');
const numbers = (text: string | boolean | undefined, fallback: string) =>
  list(text, fallback).map(Number);

interface RunConfig {
  task: 'classify' | 'pretrain' | 'simclr' | 'mff';
  depths: number[];
  widths: number[];
  decoderWidth: number;
  resnet: { depth: ResNetDepth; widths: number[] };
  vit: Omit<ViTConfig, 'maskRatio'>;
  size: number;
  batch: number;
  steps: number;
  warmup: number;
}

function stepFunction(config: RunConfig): {
  step: () => number;
  macsPerImage: number;
  dispose: () => void;
} {
  const { size, batch, depths, widths, decoderWidth } = config;
  const rng = new Random(0);
  const images = tf.tensor4d(
    Float32Array.from({ length: batch * size * size }, () => rng.normal()),
    [batch, size, size, 1],
  );
  if (config.task === 'simclr') return simclrStep(config, images);
  if (config.task === 'mff') return mffStep(config, images, rng);
  const encoderMacs = convnextEncoderMacs({ depths, widths, inChannels: 1, size });
  const model = { depths, widths, dropPath: 0.1, decoderWidth };
  if (config.task === 'classify') {
    const net = new ConvNeXtClassifier({ ...model, numClasses: 2, seed: 0 });
    const targets = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: batch }, (_, i) => i % 2),
        'int32',
      ),
      2,
    ) as tf.Tensor2D;
    const variables = [...net.namedWeights()].filter(([, v]) => v.trainable);
    const adam = { optimizer: 'adamw', lr: 1e-3, weightDecay: 0 };
    return {
      step: trainerStep(
        () => weightedCrossEntropy(net.logits(images, true), targets, [1, 1]),
        variables,
        adam,
        createStageOptimizer(adam, variables),
      ),
      macsPerImage: encoderMacs + widths[3]! * 2,
      dispose: () => tf.dispose([images, targets, ...variables.map(([, v]) => v)]),
    };
  }
  const net = new SparKNetwork({ ...model, sparse: true, seed: 0 });
  const grid = size / PATCH_SIZE;
  const keep = Math.round(grid * grid * 0.4);
  const active = tf.tensor4d(
    Array.from({ length: batch }, () => {
      const visible = new Set(rng.sample([...Array(grid * grid).keys()], keep));
      return [...Array(grid * grid).keys()].map((c) => (visible.has(c) ? 1 : 0));
    }).flat(),
    [batch, grid, grid, 1],
  );
  const variables = [...net.namedWeights()].filter(([, v]) => v.trainable);
  const adam = { optimizer: 'adamw', lr: 1e-3, weightDecay: 0.04 };
  return {
    step: trainerStep(
      () => sparkReconstructionLoss(net.reconstruct(images, active, true), images, active),
      variables,
      adam,
      createStageOptimizer(adam, variables),
    ),
    macsPerImage: encoderMacs + sparkDecoderMacs(widths, decoderWidth, size, 1),
    dispose: () => tf.dispose([images, active, ...variables.map(([, v]) => v)]),
  };
}

type StepFunction = ReturnType<typeof stepFunction>;

/** One update as the trainers make it (optimizerStep: gradients, finite check, update). */
function trainerStep(
  loss: () => tf.Scalar,
  variables: ReadonlyArray<[string, tf.Variable]>,
  stage: { lr: number; weightDecay: number },
  optimizer: StageOptimizer,
): () => number {
  let step = 0;
  return () =>
    tf.tidy(() =>
      optimizerStep(loss, variables, optimizer, { stage: 'bench', step: step++, ...stage }),
    );
}

/**
 * Each image gives two views; the step's 2N views are the images themselves flipped, as
 * augmentation is not what is measured. LARS at MMPreTrain's 0.3 x 32 / 256.
 */
function simclrStep(config: RunConfig, images: tf.Tensor4D): StepFunction {
  const net = new SimCLRNetwork({ ...config.resnet, seed: 0 });
  const views = tf.concat([images, tf.reverse(images, 2)]);
  const variables = [...net.namedWeights()].filter(([, v]) => v.trainable);
  const stage = { optimizer: 'lars', lr: 0.0375, weightDecay: 1e-6 };
  const lars = createStageOptimizer(stage, variables);
  const step = trainerStep(() => ntXentLoss(net.embed(views, true)), variables, stage, lars);
  const features = net.encoder.featureChannels;
  const backbone = resnetMacs({ ...config.resnet, inChannels: 1, size: config.size });
  return {
    step,
    macsPerImage: 2 * (backbone + nonLinearNeckMacs(features, features, 128)),
    dispose: () => {
      tf.dispose([images, views, ...variables.map(([, v]) => v)]);
      lars.dispose();
    },
  };
}

/** A fresh MAE mask per step, as the trainer draws one per batch. */
function mffStep(config: RunConfig, images: tf.Tensor4D, rng: Random): StepFunction {
  const maskRatio = 0.75;
  const net = new MffNetwork({ ...config.vit, maskRatio, imageSize: config.size, seed: 0 });
  const variables = [...net.namedWeights()].filter(([, v]) => v.trainable);
  const stage = { optimizer: 'adamw', lr: 2.4e-4, weightDecay: 0.05 };
  const adamw = createStageOptimizer(stage, variables, {
    noDecayNames: VIT_NO_DECAY_NAMES,
    betas: MAE_BETAS,
  });
  const batch = images.shape[0];
  const step = trainerStep(
    () => {
      const mask = net.drawMask(batch, rng);
      return maeReconstructionLoss(
        net.reconstruct(images, mask, true),
        images,
        removedMap(mask),
        config.vit.patchSize,
      );
    },
    variables,
    stage,
    adamw,
  );
  return {
    step,
    macsPerImage: mffMacs({
      ...config.vit,
      imageSize: config.size,
      inChannels: 1,
      maskRatio,
      fusionLevels: net.fusionLayers.length,
    }),
    dispose: () => {
      tf.dispose([images, ...variables.map(([, v]) => v)]);
      adamw.dispose();
    },
  };
}

const benchmark: Benchmark = {
  options: {
    model: 'network (convnext)',
    depths: 'blocks per stage (default 1,1,3,1)',
    widths: 'channels per stage (default 32,64,128,256)',
    'decoder-width': 'SparK decoder width D (default 128)',
    'resnet-depth': 'SimCLR ResNet layout, 18 or 50 (default 18)',
    'resnet-widths': 'SimCLR ResNet stage widths (default 16,32,64,128)',
    vit: 'MFF ViT patch,width,depth,heads,decoderWidth,decoderDepth,decoderHeads (default 16,96,6,4,64,2,4)',
    size: 'input side(s) in px (default 64)',
    batch: 'images per step (default 8)',
    task: 'classify, pretrain, simclr, mff, comma-separated (default classify)',
    backend: 'auto, wasm, cpu, tensorflow, comma-separated to compare in one run (default auto)',
    steps: 'measured steps (default 5)',
    warmup: 'unmeasured steps first (default 2)',
  },
  async run(options) {
    if ((options.model ?? 'convnext') !== 'convnext')
      throw new Error(`--model ${options.model}: only convnext so far`);
    const backends = [];
    const runs = [];
    for (const choice of list(options.backend, 'auto') as BackendChoice[]) {
      const backend = await initBackend({ backend: choice });
      console.error(`backend ${backend.name}: ${backend.reason}`);
      backends.push({ name: backend.name, reason: backend.reason });
      for (const task of list(options.task, 'classify') as RunConfig['task'][]) {
        for (const size of numbers(options.size, '64')) {
          const config: RunConfig = {
            task,
            size,
            depths: numbers(options.depths, '1,1,3,1'),
            widths: numbers(options.widths, '32,64,128,256'),
            decoderWidth: Number(options['decoder-width'] ?? 128),
            resnet: {
              depth: Number(options['resnet-depth'] ?? 18) as ResNetDepth,
              widths: numbers(options['resnet-widths'], '16,32,64,128'),
            },
            vit: vitShape(numbers(options.vit, '16,96,6,4,64,2,4')),
            batch: Number(options.batch ?? 8),
            steps: Number(options.steps ?? 5),
            warmup: Number(options.warmup ?? 2),
          };
          const run = { backend: backend.name, ...measure(config) };
          console.error(
            `${backend.name} ${task} ${size} px batch ${config.batch}: ${run.medianMs} ms/step, ${run.imagesPerSecond} img/s, ${run.achievedGflops} GFLOP/s`,
          );
          runs.push(run);
        }
      }
    }
    return {
      backend: backends[0]?.name,
      backendReason: backends[0]?.reason,
      backends,
      medianMs: runs[0]?.medianMs,
      peakRssMiB: peakRssMiB(),
      runs,
    };
  },
};

/** Warm-up, then the timed steps; the network's shape is the task's own. */
function measure(config: RunConfig) {
  const { step, macsPerImage, dispose } = stepFunction(config);
  for (let i = 0; i < config.warmup; i++) step();
  const tensorsBefore = tf.memory().numTensors;
  const stepsMs: number[] = [];
  for (let i = 0; i < config.steps; i++) {
    const start = performance.now();
    step();
    stepsMs.push(performance.now() - start);
  }
  const leakedTensors = tf.memory().numTensors - tensorsBefore;
  dispose();
  const medianMs = median(stepsMs);
  const flopsPerStep = 6 * macsPerImage * config.batch; // forward + backward = 3 forward passes
  const { task, size, batch, steps, warmup } = config;
  return {
    task,
    size,
    batch,
    steps,
    warmup,
    network: networkOf(config),
    medianMs: Math.round(medianMs * 10) / 10,
    stepsMs: stepsMs.map((ms) => Math.round(ms)),
    imagesPerSecond: Math.round((batch * 1000 * 10) / medianMs) / 10,
    gflopPerStep: Math.round(flopsPerStep / 1e7) / 100,
    achievedGflops: Math.round((flopsPerStep / (medianMs / 1000) / 1e9) * 100) / 100,
    leakedTensors,
  };
}

function networkOf(config: RunConfig) {
  if (config.task === 'simclr') return { resnet: config.resnet };
  if (config.task === 'mff') return { vit: config.vit };
  const { depths, widths, decoderWidth } = config;
  return {
    convnext: config.task === 'pretrain' ? { depths, widths, decoderWidth } : { depths, widths },
  };
}

function vitShape(values: number[]): RunConfig['vit'] {
  if (values.length !== 7 || values.some((v) => !Number.isInteger(v) || v < 1))
    throw new Error(
      `--vit ${values}: give 7 positive integers (patch,width,depth,heads,decoderWidth,decoderDepth,decoderHeads)`,
    );
  const [patchSize, width, depth, heads, decoderWidth, decoderDepth, decoderHeads] = values as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { patchSize, width, depth, heads, decoderWidth, decoderDepth, decoderHeads };
}

export default benchmark;
