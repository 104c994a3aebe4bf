import { resolve } from 'node:path';
import type { DatasetSourceSpec, DatasetsSpec } from '@masksweep/api';
import {
  CROP_SOURCE_SCALE,
  type GrayImage,
  loadDataset,
  renderPhantom,
  type Sample,
  type SkippedFile,
  splitDataset,
} from '@masksweep/data';
import { Random } from '@masksweep/random';
import type { LabelledImages } from './finetune.js';

export interface SampleSet extends LabelledImages {
  ids: string[];
}

export interface TrialData {
  pretrain: GrayImage[];
  train: SampleSet;
  val: SampleSet;
  test: SampleSet;
  skipped: { pretrain: SkippedFile[]; downstream: SkippedFile[] };
}

/** Slices per phantom patient, so group-aware splits have groups to keep together. */
const PHANTOM_SLICES_PER_PATIENT = 4;

/**
 * Phantoms made in memory at the training size (the same seed gives the same set). They have
 * no finer original, so crops are cut from the training-size image itself.
 */
function phantomSet(spec: NonNullable<DatasetSourceSpec['phantom']>, size: number) {
  const rng = new Random(spec.seed);
  const lesionOptions = {
    lesionRadius: spec.lesionRadius as [number, number] | undefined,
    lesionContrast: spec.lesionContrast as [number, number] | undefined,
  };
  const samples: Sample[] = [];
  const images: GrayImage[] = [];
  for (let i = 0; i < spec.count; i++) {
    const label = rng.bernoulli(spec.positiveFraction) ? 1 : 0;
    const lesions = label ? rng.int(1, 3) : 0;
    images.push(renderPhantom(rng, { ...lesionOptions, size, lesions }).image);
    const id = `phantom-${i}`;
    samples.push({
      id,
      path: id,
      label,
      group: `patient-${Math.floor(i / PHANTOM_SLICES_PER_PATIENT)}`,
    });
  }
  return { samples, images, skipped: [] as SkippedFile[] };
}

async function readSource(source: DatasetSourceSpec, data: DatasetsSpec, baseDir: string) {
  if (source.phantom) return phantomSet(source.phantom, data.imageSize);
  if (!source.path) throw new Error('a dataset needs a path or a phantom');
  return loadDataset(resolve(baseDir, source.path), {
    size: data.imageSize,
    resize: data.resize,
    // RandomResizedCrop cuts from the decoded original, not from the shrunk image
    sourceScale: CROP_SOURCE_SCALE,
    labelColumn: source.labelColumn,
    groupColumn: source.groupColumn,
  });
}

/**
 * The images of a trial: the pre-training set (labels unused) and the downstream set split
 * into train / val / test by the Sweep's fractions and split seed (group-aware, stratified).
 * Relative paths resolve against `baseDir`, the Sweep file's folder. `pretrain: false`
 * leaves the pre-training set unread (empty): a trial that pre-trains nothing needs none.
 */
export async function loadTrialData(
  data: DatasetsSpec,
  baseDir: string,
  options: { pretrain?: boolean } = {},
): Promise<TrialData> {
  const [pretrain, downstream] = await Promise.all([
    options.pretrain === false
      ? { images: [], skipped: [] }
      : readSource(data.pretrain, data, baseDir),
    readSource(data.downstream, data, baseDir),
  ]);
  const imageById = new Map(
    downstream.samples.map((s, i) => [s.id, downstream.images[i] as GrayImage]),
  );
  const splits = splitDataset(downstream.samples, { fractions: data.splits, seed: data.splitSeed });
  const set = (samples: Sample[]): SampleSet => ({
    ids: samples.map((s) => s.id),
    labels: samples.map((s) => s.label),
    images: samples.map((s) => imageById.get(s.id) as GrayImage),
  });
  return {
    pretrain: pretrain.images,
    train: set(splits.train),
    val: set(splits.val),
    test: set(splits.test),
    skipped: { pretrain: pretrain.skipped, downstream: downstream.skipped },
  };
}
