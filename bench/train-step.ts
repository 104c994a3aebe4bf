/**
 * One training step (forward, backward, update) per backend, as the trainer runs it:
 *   --task classify: a dense ConvNeXt classifier on 1-channel input, cross entropy, Adam
 *                    (the step PyTorch was measured on in TFJS-WASM.md);
 *   --task pretrain: a SparK step (sparse encoder, light decoder, random 60 % mask).
 * Sizes and tasks take comma lists; the result's top-level medianMs is the first run's.
 */
import {
  type BackendChoice,
  ConvNeXtClassifier,
  convnextEncoderMacs,
  initBackend,
  PATCH_SIZE,
  SparKNetwork,
  sparkDecoderMacs,
} from '@masksweep/models';
import { Random } from '@masksweep/random';
import { createOptimizer, sparkReconstructionLoss, weightedCrossEntropy } from '@masksweep/train';
import * as tf from '@tensorflow/tfjs-core';
import type { Benchmark } from './main.js';
import { median, peakRssMiB } from './measure.js';

const list = (text: string | boolean | undefined, fallback: string) =>
  String(text ?? fallback).split(',');
const numbers = (text: string | boolean | undefined, fallback: string) =>
  list(text, fallback).map(Number);

interface RunConfig {
  task: 'classify' | 'pretrain';
  depths: number[];
  widths: number[];
  decoderWidth: number;
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
    const adam = createOptimizer(
      { type: 'adamw', lr: 1e-3, weightDecay: 0 },
      variables.map(([name, variable]) => ({ name, variable })),
    );
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => weightedCrossEntropy(net.logits(images, true), targets, [1, 1]),
          variables.map(([, v]) => v),
        );
        adam.step(grads);
        return value.dataSync()[0] as number;
      });
    return {
      step,
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
  const adam = createOptimizer(
    { type: 'adamw', lr: 1e-3, weightDecay: 0.04 },
    variables.map(([name, variable]) => ({ name, variable })),
  );
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => sparkReconstructionLoss(net.reconstruct(images, active, true), images, active),
        variables.map(([, v]) => v),
      );
      adam.step(grads);
      return value.dataSync()[0] as number;
    });
  return {
    step,
    macsPerImage: encoderMacs + sparkDecoderMacs(widths, decoderWidth, size, 1),
    dispose: () => tf.dispose([images, active, ...variables.map(([, v]) => v)]),
  };
}

const benchmark: Benchmark = {
  options: {
    model: 'network (convnext)',
    depths: 'blocks per stage (default 1,1,3,1)',
    widths: 'channels per stage (default 32,64,128,256)',
    'decoder-width': 'SparK decoder width D (default 128)',
    size: 'input side(s) in px (default 64)',
    batch: 'images per step (default 8)',
    task: 'classify, pretrain, or both comma-separated (default classify)',
    backend: 'auto, wasm, cpu, tensorflow (default auto)',
    steps: 'measured steps (default 5)',
    warmup: 'unmeasured steps first (default 2)',
  },
  async run(options) {
    if ((options.model ?? 'convnext') !== 'convnext')
      throw new Error(`--model ${options.model}: only convnext so far`);
    const backend = await initBackend({ backend: options.backend as BackendChoice | undefined });
    console.error(`backend ${backend.name}: ${backend.reason}`);
    const runs = [];
    for (const task of list(options.task, 'classify') as RunConfig['task'][]) {
      for (const size of numbers(options.size, '64')) {
        const config: RunConfig = {
          task,
          size,
          depths: numbers(options.depths, '1,1,3,1'),
          widths: numbers(options.widths, '32,64,128,256'),
          decoderWidth: Number(options['decoder-width'] ?? 128),
          batch: Number(options.batch ?? 8),
          steps: Number(options.steps ?? 5),
          warmup: Number(options.warmup ?? 2),
        };
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
        const run = {
          ...config,
          medianMs: Math.round(medianMs * 10) / 10,
          stepsMs: stepsMs.map((ms) => Math.round(ms)),
          imagesPerSecond: Math.round((config.batch * 1000 * 10) / medianMs) / 10,
          gflopPerStep: Math.round(flopsPerStep / 1e7) / 100,
          achievedGflops: Math.round((flopsPerStep / (medianMs / 1000) / 1e9) * 100) / 100,
          leakedTensors,
        };
        console.error(
          `${task} ${size} px batch ${config.batch}: ${run.medianMs} ms/step, ${run.imagesPerSecond} img/s, ${run.achievedGflops} GFLOP/s`,
        );
        runs.push(run);
      }
    }
    return {
      backend: backend.name,
      backendReason: backend.reason,
      medianMs: runs[0]?.medianMs,
      peakRssMiB: peakRssMiB(),
      runs,
    };
  },
};
export default benchmark;
