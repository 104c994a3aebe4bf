/**
 * What SparK pre-training buys at 64 px on the real CT sets (examples/ct-64.yaml): for the
 * random and the mesh mask, test F1 of the fine-tuned pre-trained encoder against the same
 * budget from a random initialisation and against always predicting the majority class;
 * the pre-training loss curves; and reconstructions of masked patches against the mean
 * image. Writes docs/spark-64/ (results.json, pretrain-loss.json/.png, reconstruction.png).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandSweep, hasPretraining, loadSweepFile, type PretrainedTrial } from '@masksweep/api';
import { type BackendChoice, initBackend } from '@masksweep/backend';
import { type GrayImage, normalize } from '@masksweep/data';
import { createMaskGenerator, maskLabel, type RgbImage, renderMaskOverlay } from '@masksweep/masks';
import { assignByName, loadTensors, maskAt, PATCH_SIZE, SparKNetwork } from '@masksweep/models';
import { Random } from '@masksweep/random';
import { classificationMetrics, confusionMatrix } from '@masksweep/stats';
import {
  loadTrialData,
  patchify,
  progressReporter,
  runPretraining,
  runTrial,
  sparkReconstructionLoss,
  type TrialResult,
} from '@masksweep/train';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { Benchmark } from './benchmark.js';
import { peakRssMiB } from './measure.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string) => console.error(line);

const benchmark: Benchmark = {
  options: {
    sweep: 'the Sweep (default examples/ct-64.yaml)',
    out: 'where figures go (default docs/spark-64)',
    backend: 'auto, wasm, cpu, tensorflow',
    stages: 'all (default), or pretrain: pre-train and draw reconstructions only',
    artifacts: 'a pre-training store to reuse (default: a new temporary one)',
  },
  async run(options) {
    const backend = await initBackend({ backend: options.backend as BackendChoice | undefined });
    const { sweep, baseDir } = loadSweepFile(
      String(options.sweep ?? join(repo, 'examples/ct-64.yaml')),
      { checkData: true },
    );
    const outDir = String(options.out ?? join(repo, 'docs/spark-64'));
    mkdirSync(outDir, { recursive: true });
    const work = mkdtempSync(join(tmpdir(), 'spark-quality-'));
    const artifactDir = options.artifacts ? String(options.artifacts) : join(work, 'artifacts');
    const data = await loadTrialData(sweep.spec.datasets, baseDir);
    const summary = (r: TrialResult) => ({
      f1: r.test.intervals.f1,
      recall: r.test.metrics.recall,
      precision: r.test.metrics.precision,
      accuracy: r.test.metrics.accuracy,
      pretrainSeconds: Math.round(r.pretrain.seconds),
      finetuneSeconds: Math.round(r.finetune.seconds),
    });

    // on the downstream test slices (another source) with a figure, and on pre-training images
    const reconstructions = async (trial: PretrainedTrial) => ({
      downstreamTest: await reconstructionLoss(
        trial,
        artifactDir,
        data.test.images,
        data.pretrain,
        join(outDir, `reconstruction-${trial.config.mask?.type}.png`),
      ),
      pretrainImages: await reconstructionLoss(
        trial,
        artifactDir,
        data.pretrain.slice(0, 64),
        data.pretrain,
      ),
    });
    const masks = [];
    // SparK's trials: a scratch trial has no pre-training to look at.
    for (const trial of expandSweep(sweep).filter(hasPretraining)) {
      const label = maskLabel(trial.config.mask ?? { type: 'none' });
      log(`== ${trial.name}: ${label}, pre-trained`);
      const started = performance.now();
      if (options.stages === 'pretrain') {
        const run = await runPretraining({
          trial,
          images: data.pretrain,
          artifactDir,
          onStep: progressReporter(log, 10_000),
          log,
        });
        masks.push({
          trial: trial.name,
          mask: label,
          seed: trial.seed,
          pretrainSeconds: Math.round((performance.now() - started) / 1000),
          pretrainLoss: run.epochLosses,
          reconstruction: await reconstructions(trial),
        });
        continue;
      }
      const pretrained = await runTrial({
        trial,
        baseDir,
        outDir: join(work, trial.name),
        artifactDir,
        onStep: progressReporter(log, 10_000),
        log,
      });
      const trialSeconds = (performance.now() - started) / 1000;
      log(`== ${trial.name}: ${label}, random initialisation`);
      const scratch = await runTrial({
        trial,
        baseDir,
        outDir: join(work, `${trial.name}-scratch`),
        artifactDir,
        skipPretraining: true,
        log,
      });
      masks.push({
        trial: trial.name,
        mask: label,
        seed: trial.seed,
        trialSeconds: Math.round(trialSeconds),
        pretrainLoss: pretrained.pretrain.epochLosses,
        pretrained: summary(pretrained),
        randomInit: summary(scratch),
        reconstruction: await reconstructions(trial),
      });
    }

    const counts = [0, 1].map((c) => data.train.labels.filter((l) => l === c).length);
    const majority = counts[1]! > counts[0]! ? 1 : 0;
    const majorityMetrics = classificationMetrics(
      confusionMatrix(
        data.test.labels,
        data.test.labels.map(() => majority),
        2,
      ),
    );
    const result = {
      backend: backend.name,
      data: {
        pretrain: data.pretrain.length,
        train: data.train.ids.length,
        val: data.val.ids.length,
        test: data.test.ids.length,
      },
      majorityClass: {
        class: majority,
        f1: majorityMetrics.f1,
        accuracy: majorityMetrics.accuracy,
      },
      masks,
      peakRssMiB: peakRssMiB(),
    };
    writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(
      join(outDir, 'pretrain-loss.json'),
      `${JSON.stringify(Object.fromEntries(masks.map((m) => [seriesLabel(m), m.pretrainLoss])), null, 2)}\n`,
    );
    await lossCurve(
      masks.map((m) => ({ label: seriesLabel(m), losses: m.pretrainLoss })),
      sweep.spec.datasets.imageSize,
      join(outDir, 'pretrain-loss.png'),
    );
    return result;
  },
};
export default benchmark;

/**
 * The norm-pix loss on masked patches of the network against two predictors without a
 * network: the mean pre-training image, and each patch's own mean (0 after normalisation);
 * with `file`, a figure of original | masked input | reconstruction | mean image for four
 * of the images (the last two keep the visible patches and fill the masked ones).
 * For display only, the predicted patches are mapped back with the true patch's mean and
 * spread, as SparK's and MAE's visualisations do (the loss figures do not use them).
 */
async function reconstructionLoss(
  trial: PretrainedTrial,
  artifactDir: string,
  images: readonly GrayImage[],
  meanOf: readonly GrayImage[],
  file?: string,
) {
  const config = trial.config;
  const model = config.model as {
    depths: number[];
    widths: number[];
    dropPath: number;
    decoderWidth: number;
  };
  const network = new SparKNetwork({ ...model, sparse: config.method === 'spark', seed: 0 });
  const { tensors } = loadTensors(join(artifactDir, 'pretrain', trial.pretrainKey, 'weights.bin'));
  assignByName(network.namedWeights(), tensors, 'pre-trained weights');
  tf.dispose([...tensors.values()]);
  const size = images[0]!.width;
  const grid = size / PATCH_SIZE;
  const generator = createMaskGenerator(config.mask!, grid);
  const rng = new Random(1);
  const masksDrawn = generator.generate(images.length, rng);
  const losses = tf.tidy(() => {
    const x = tf.tensor4d(
      images.flatMap((im) => [...normalize(im).data]),
      [images.length, size, size, 1],
    );
    const active = tf.tensor4d(
      masksDrawn.flatMap((m) => [...m].map((c) => 1 - c)),
      [images.length, grid, grid, 1],
    );
    const prediction = network.reconstruct(x, active, false);
    const pretrainImages = tf.tensor4d(
      meanOf.flatMap((im) => [...normalize(im).data]),
      [meanOf.length, size, size, 1],
    );
    const meanImage = tf.tile(tf.mean(pretrainImages, 0, true), [
      images.length,
      1,
      1,
      1,
    ]) as tf.Tensor4D;
    // the mean image's own patches, normalised like the targets
    const { mean, variance } = tf.moments(patchify(meanImage, PATCH_SIZE), -1, true);
    const meanPatches = tf.div(
      tf.sub(patchify(meanImage, PATCH_SIZE), mean),
      tf.sqrt(tf.add(variance, 1e-6)),
    );
    const meanPrediction = unpatchify(meanPatches, size);
    return {
      network: sparkReconstructionLoss(prediction, x, active).dataSync()[0]!,
      meanImage: sparkReconstructionLoss(meanPrediction, x, active).dataSync()[0]!,
      patchMean: sparkReconstructionLoss(tf.zerosLike(x) as tf.Tensor4D, x, active).dataSync()[0]!,
      shown: tf
        .concat([x, composite(prediction, x, active), composite(meanPrediction, x, active)], 3)
        .arraySync() as number[][][][],
    };
  });
  network.dispose();
  const normPixLoss = {
    network: losses.network,
    meanImage: losses.meanImage,
    patchMean: losses.patchMean,
  };
  if (!file) return { images: images.length, normPixLoss };
  // four rows: original, masked, reconstruction, mean image
  const rows: RgbImage[] = [];
  for (let i = 0; i < 4; i++) {
    const panel = (channel: number, mask?: Uint8Array) => {
      const data = Float32Array.from(
        losses.shown[i]!.flatMap((row) => row.map((px) => px[channel]! * 0.226 + 0.449)),
      );
      return renderMaskOverlay(
        { width: size, height: size, data },
        mask ?? new Uint8Array(grid * grid),
        grid,
      );
    };
    rows.push(hconcat([panel(0), panel(0, masksDrawn[i]), panel(1), panel(2)]));
  }
  await sharp(vconcat(rows).rgb, { raw: { width: size * 4, height: size * 4, channels: 3 } })
    .resize(size * 8, size * 8, { kernel: 'nearest' })
    .png()
    .toFile(file);
  return { images: images.length, normPixLoss, figure: relative(repo, resolve(file)) };
}

/** [B, L, p*p] patches back to [B, H, W, 1]. */
function unpatchify(patches: tf.Tensor, size: number): tf.Tensor4D {
  const grid = size / PATCH_SIZE;
  const batch = patches.shape[0]!;
  return tf.reshape(
    tf.transpose(
      tf.reshape(patches, [batch, grid, grid, PATCH_SIZE, PATCH_SIZE, 1]),
      [0, 1, 3, 2, 4, 5],
    ),
    [batch, size, size, 1],
  );
}

/** The visible patches of the target with the predicted ones in the masked places, as SparK draws it. */
function composite(prediction: tf.Tensor4D, target: tf.Tensor4D, active: tf.Tensor4D): tf.Tensor4D {
  const visible = maskAt(active, target.shape[1]);
  return tf.add(
    tf.mul(target, visible),
    tf.mul(display(prediction, target), tf.sub(1, visible)),
  ) as tf.Tensor4D;
}

/** Predicted (normalised) patches shown in the target's pixel scale. */
function display(prediction: tf.Tensor4D, target: tf.Tensor4D): tf.Tensor4D {
  const size = target.shape[1];
  const t = patchify(target, PATCH_SIZE);
  const { mean, variance } = tf.moments(t, -1, true);
  const n = t.shape[2];
  return unpatchify(
    tf.add(tf.mul(patchify(prediction, PATCH_SIZE), tf.sqrt(tf.mul(variance, n / (n - 1)))), mean),
    size,
  );
}

function hconcat(images: RgbImage[]): RgbImage {
  const { height } = images[0]!;
  const width = images.reduce((s, im) => s + im.width, 0);
  const rgb = new Uint8Array(width * height * 3);
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < height; y++)
      rgb.set(im.rgb.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * width + x0) * 3);
    x0 += im.width;
  }
  return { width, height, rgb };
}

function vconcat(images: RgbImage[]): RgbImage {
  const { width } = images[0]!;
  const height = images.reduce((s, im) => s + im.height, 0);
  const rgb = new Uint8Array(width * height * 3);
  let offset = 0;
  for (const im of images) {
    rgb.set(im.rgb, offset);
    offset += im.rgb.length;
  }
  return { width, height, rgb };
}

/** A run's curve label: its mask and seed (the seeds of one mask are separate runs). */
function seriesLabel(run: { mask: string; seed: number }): string {
  return `${run.mask}, seed ${run.seed}`;
}

/** The mean loss per epoch of each run on a log scale, as an SVG drawn to PNG. */
export async function lossCurve(
  series: Array<{ label: string; losses: number[] }>,
  imageSize: number,
  file: string,
): Promise<void> {
  const width = 640;
  const height = 400;
  const margin = { left: 60, right: 20, top: 30, bottom: 40 };
  const all = series.flatMap((s) => s.losses);
  const [low, high] = [Math.log10(Math.min(...all)), Math.log10(Math.max(...all))];
  const epochs = Math.max(...series.map((s) => s.losses.length));
  const x = (e: number) =>
    margin.left + ((width - margin.left - margin.right) * e) / Math.max(1, epochs - 1);
  const y = (v: number) =>
    margin.top +
    ((height - margin.top - margin.bottom) * (high - Math.log10(v))) / (high - low || 1);
  const colours = [
    '#1f77b4',
    '#d62728',
    '#2ca02c',
    '#9467bd',
    '#ff7f0e',
    '#8c564b',
    '#e377c2',
    '#17becf',
  ];
  const lines = series.map((s, i) => {
    const points = s.losses.map((v, e) => `${x(e).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${colours[i % colours.length]}" stroke-width="2" points="${points}"/>
      <text x="${width - 200}" y="${margin.top + 20 * (i + 1)}" fill="${colours[i % colours.length]}" font-size="14" font-family="sans-serif">${s.label}</text>`;
  });
  const ticks = [];
  // 1-2-5 steps per decade; a range narrower than that gets a step of a tenth of a decade.
  const steps =
    high - low < 0.5
      ? [1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9]
      : [1, 2, 5];
  for (let p = Math.floor(low); p <= Math.ceil(high); p++) {
    for (const m of steps) {
      const v = Number((m * 10 ** p).toPrecision(3));
      if (Math.log10(v) < low || Math.log10(v) > high) continue;
      ticks.push(`<line x1="${margin.left - 4}" x2="${width - margin.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>
        <text x="${margin.left - 8}" y="${y(v) + 4}" text-anchor="end" font-size="11" font-family="sans-serif">${v}</text>`);
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    ${ticks.join('\n')}
    <line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="black"/>
    <line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="black"/>
    <text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="13" font-family="sans-serif">epoch (1 to ${epochs})</text>
    <text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-family="sans-serif">SparK pre-training loss (norm-pix MSE on masked patches), ${imageSize} px</text>
    ${lines.join('\n')}
  </svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}
