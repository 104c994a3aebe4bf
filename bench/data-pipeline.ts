/**
 * Images per second through the training data pipeline: decode + grey + resize (sharp) to the
 * training size and to the crop source (up to CROP_SOURCE_SCALE x larger, as the trainers
 * load), then randomResizedCrop from the source + randomFlip (our loops), at the sizes the
 * study uses. Decode alone and augmentation alone are measured too, so the augmentation's
 * share of the time shows.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CROP_SOURCE_SCALE,
  decodeGray,
  type GrayImage,
  randomFlip,
  randomResizedCrop,
  readLabels,
  writePhantomDataset,
} from '@masksweep/data';
import { Random } from '@masksweep/random';
import type { Benchmark } from './benchmark.js';
import { median, peakRssMiB, ratePerSecond } from './measure.js';

const SIZES = [64, 96, 224];
/** Files decoded concurrently, as a loader fills a batch. */
const BATCH = 16;
const MIN_PASSES = 3;
const HEAD_CT = fileURLToPath(new URL('../../shared/data/head-ct-hemorrhage', import.meta.url));
/** Enough phantom files that sharp's cache (100 items) never serves a repeat. */
const PHANTOM_COUNT = 200;
const PHANTOM_SIZE = 512;

const benchmark: Benchmark = {
  options: {
    data: `folder with labels.csv (default ${HEAD_CT} if present, else ${PHANTOM_COUNT} phantoms in a temp folder)`,
    seconds: `least seconds of decode passes per size, at least ${MIN_PASSES} passes (default 3)`,
  },
  async run(options) {
    const seconds = Number(options.seconds ?? 3);
    if (!(seconds > 0)) {
      throw new RangeError(`--seconds must be a positive number, got ${options.seconds}`);
    }
    const dataset = await chooseDataset(options.data);
    try {
      const files = readLabels(dataset.folder).samples.map((sample) => sample.path);
      if (files.length === 0) throw new Error(`${dataset.folder} lists no usable images`);
      console.error(`data: ${dataset.kind}, ${files.length} images in ${dataset.folder}`);
      const rng = new Random(0);
      const augment = (image: GrayImage, size: number): GrayImage =>
        randomFlip(randomResizedCrop(image, rng, { size }), rng);

      // A pass decodes every file, BATCH at a time, so each run covers the same mix of image
      // sizes (134 to 957 px in head-ct-hemorrhage); returns images per second.
      const pass = async (size: number, withAugment: boolean): Promise<number> => {
        const start = performance.now();
        for (let first = 0; first < files.length; first += BATCH) {
          const batch = files.slice(first, first + BATCH);
          const images = await Promise.all(
            batch.map((file) => decodeGray(file, { size, sourceScale: CROP_SOURCE_SCALE })),
          );
          if (withAugment) for (const image of images) augment(image, size);
        }
        return (files.length * 1000) / (performance.now() - start);
      };

      const results = [];
      for (const size of SIZES) {
        await pass(size, true);
        // Decode-only and full passes alternate, so a busy moment of the machine hits both.
        const decodeRuns: number[] = [];
        const pipelineRuns: number[] = [];
        let decodeSeconds = 0;
        while (decodeRuns.length < MIN_PASSES || decodeSeconds < seconds) {
          const rate = await pass(size, false);
          decodeRuns.push(rate);
          decodeSeconds += files.length / rate;
          pipelineRuns.push(await pass(size, true));
        }
        const decoded = await Promise.all(
          files.map((file) => decodeGray(file, { size, sourceScale: CROP_SOURCE_SCALE })),
        );
        const augmentOnly = await ratePerSecond(
          () => decoded.map((image) => augment(image, size)),
          files.length,
          { seconds: 1 },
        );
        const row = {
          size,
          decodePerSecond: Math.round(median(decodeRuns)),
          pipelinePerSecond: Math.round(median(pipelineRuns)),
          augmentPerSecond: Math.round(augmentOnly.median),
          // Augmentation time per image over whole-pipeline time per image.
          augmentSharePercent: Number(
            ((100 * median(pipelineRuns)) / augmentOnly.median).toFixed(1),
          ),
          decodeRuns: decodeRuns.map(Math.round),
          pipelineRuns: pipelineRuns.map(Math.round),
        };
        console.error(
          `size ${size}: decode ${row.decodePerSecond} img/s, decode+augment ${row.pipelinePerSecond} img/s, augment alone ${row.augmentPerSecond} img/s (${row.augmentSharePercent}% of pipeline time)`,
        );
        results.push(row);
      }
      return {
        dataset: { kind: dataset.kind, folder: dataset.folder, images: files.length },
        batch: BATCH,
        minSecondsPerSize: seconds,
        uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
        results,
        peakRssMiB: peakRssMiB(),
      };
    } finally {
      dataset.cleanup();
    }
  },
};
export default benchmark;

async function chooseDataset(
  folder: string | boolean | undefined,
): Promise<{ kind: string; folder: string; cleanup: () => void }> {
  if (typeof folder === 'string') return { kind: 'given', folder, cleanup: () => {} };
  if (existsSync(HEAD_CT)) {
    return { kind: 'head-ct-hemorrhage', folder: HEAD_CT, cleanup: () => {} };
  }
  const temp = mkdtempSync(join(tmpdir(), 'masksweep-bench-'));
  console.error(`${HEAD_CT} is absent: writing ${PHANTOM_COUNT} phantoms to ${temp}`);
  await writePhantomDataset(temp, { count: PHANTOM_COUNT, size: PHANTOM_SIZE, seed: 0 });
  return {
    kind: `phantom ${PHANTOM_SIZE}x${PHANTOM_SIZE}`,
    folder: temp,
    cleanup: () => rmSync(temp, { recursive: true, force: true }),
  };
}
