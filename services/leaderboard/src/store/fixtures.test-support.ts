/**
 * Results as a trial-runner would report them, for tests and the benchmark: a config in the
 * shape @masksweep/api expands (method, mask, augmentation, seed, finetune, ...) and the
 * proto's flattened fields taken from it.
 */
import type { Random } from '@masksweep/random';
import { classificationMetrics, confusionMatrix } from '@masksweep/stats';
import type { TrialResultInput } from './types.js';

export interface ResultFixture {
  namespace?: string;
  sweep?: string;
  trial?: string;
  attempt?: number;
  method?: string;
  /** Empty for methods without a mask. */
  maskType?: string;
  maskRatio?: number;
  maskSize?: number;
  augmentation?: string;
  seed?: number;
  learningRate?: number;
  /** Test metrics. */
  metrics?: Record<string, number>;
  /** Validation metrics. */
  valMetrics?: Record<string, number>;
  grids?: string[];
  counts?: number[];
  predictions?: TrialResultInput['predictions'];
  artifacts?: TrialResultInput['artifacts'];
  finishedAtMs?: number;
}

/** The config key of a fixture: everything but the seed, readable. */
export function fixtureConfigKey(fixture: ResultFixture): string {
  const {
    method = 'spark',
    maskType = 'random',
    maskRatio = 0.6,
    maskSize = 0,
    augmentation = 'randomResizedCrop',
    learningRate = 0.0001,
  } = fixture;
  return `cfg-${method}-${maskType || 'none'}-${maskType === 'square' ? maskSize : maskRatio}-${augmentation}-${learningRate}`;
}

export function resultFixture(fixture: ResultFixture = {}): TrialResultInput {
  const {
    namespace = 'default',
    sweep = 'study',
    attempt = 1,
    method = 'spark',
    maskType = 'random',
    maskRatio = maskType === 'square' || maskType === '' ? 0 : 0.6,
    maskSize = maskType === 'square' ? 2 : 0,
    augmentation = 'randomResizedCrop',
    seed = 0,
    learningRate = 0.0001,
  } = fixture;
  const configKey = fixtureConfigKey({ ...fixture, maskRatio, maskSize });
  const mask =
    maskType === ''
      ? null
      : maskType === 'square'
        ? { type: maskType, size: maskSize }
        : { type: maskType, ratio: maskRatio };
  const config = {
    method,
    mask,
    augmentation: { type: augmentation },
    seed,
    finetune: { epochs: 10, lr: learningRate, freezeEncoder: false },
  };
  return {
    namespace,
    sweep,
    trial: fixture.trial ?? `${sweep}-${configKey}-s${seed}`,
    attempt,
    config: {
      configKey,
      method,
      maskType,
      maskRatio,
      maskSize,
      augmentation,
      seed,
      pretrainKey: `pt-${method}-${maskType}-${seed}`,
      configJson: JSON.stringify(config),
      grids: fixture.grids ?? ['grid-1'],
    },
    confusionMatrix: { numClasses: 2, counts: fixture.counts ?? tallyOf(fixture.predictions) },
    metrics: fixture.metrics ?? { f1: 0.75, precision: 0.7, recall: 0.8, accuracy: 0.87 },
    valMetrics: fixture.valMetrics ?? { f1: 0.78, precision: 0.74, recall: 0.82, accuracy: 0.88 },
    predictions: fixture.predictions ?? [],
    artifacts: fixture.artifacts ?? [],
    finishedAtMs: fixture.finishedAtMs ?? 1_750_000_000_000,
    durationSeconds: 120,
  };
}

/** The counts of the predictions' (label, predicted) pairs, as the store checks them. */
function tallyOf(predictions: TrialResultInput['predictions']): number[] {
  if (!predictions || predictions.length === 0) return [40, 5, 3, 12];
  const counts = [0, 0, 0, 0];
  for (const { label, predicted } of predictions) counts[label * 2 + predicted] += 1;
  return counts;
}

const METHODS = ['spark', 'simclr', 'mff'];
const MASKS: Array<Pick<ResultFixture, 'maskType' | 'maskRatio' | 'maskSize'>> = [
  { maskType: 'random', maskRatio: 0.5 },
  { maskType: 'random', maskRatio: 0.6 },
  { maskType: 'random', maskRatio: 0.7 },
  { maskType: 'mesh', maskRatio: 0.5 },
  { maskType: 'mesh', maskRatio: 0.6 },
  { maskType: 'mesh', maskRatio: 0.7 },
  { maskType: 'mesh', maskRatio: 0.8 },
  { maskType: 'blockwise', maskRatio: 0.4 },
  { maskType: 'blockwise', maskRatio: 0.6 },
  { maskType: 'blockwise', maskRatio: 0.8 },
  { maskType: 'square', maskSize: 2 },
  { maskType: 'square', maskSize: 3 },
  { maskType: 'square', maskSize: 4 },
];
const AUGMENTATIONS = ['none', 'randomResizedCrop', 'randomFlip', 'cutmix', 'mixup'];

/**
 * The `index`-th result of a synthetic study: configs cycle through methods, masks,
 * augmentations and learning rates (`configCount` of them), `seeds` seeds each, with
 * metrics drawn from `rng` around a per-config level; grids of 33 configs, the paper's
 * sweep's size.
 */
export function syntheticResult(
  index: number,
  options: { sweep: string; namespace?: string; configCount: number; seeds: number; rng: Random },
): TrialResultInput {
  const configIndex = Math.floor(index / options.seeds) % options.configCount;
  const seed = index % options.seeds;
  const method = METHODS[configIndex % METHODS.length] as string;
  const mask =
    method === 'spark'
      ? (MASKS[Math.floor(configIndex / METHODS.length) % MASKS.length] as ResultFixture)
      : { maskType: '' };
  const augmentation = AUGMENTATIONS[configIndex % AUGMENTATIONS.length] as string;
  // Unique per config, so that every config index is a config key of its own.
  const learningRate = 0.0001 + configIndex * 1e-7;
  const level = 0.5 + (0.4 * ((configIndex * 7919) % 1000)) / 1000;
  const noise = () => options.rng.uniform(-0.05, 0.05);
  const f1 = Math.min(1, Math.max(0, level + noise()));
  return resultFixture({
    namespace: options.namespace,
    sweep: options.sweep,
    trial: `${options.sweep}-t${index}`,
    method,
    ...mask,
    augmentation,
    seed,
    learningRate,
    metrics: {
      f1,
      precision: Math.min(1, Math.max(0, f1 + noise())),
      recall: Math.min(1, Math.max(0, f1 + noise())),
      accuracy: Math.min(1, Math.max(0, 0.9 + noise())),
      macro_f1: Math.min(1, Math.max(0, f1 - 0.05 + noise())),
    },
    valMetrics: { f1: Math.min(1, Math.max(0, level + noise())) },
    grids: [`grid-${Math.floor(configIndex / 33) + 1}`],
    finishedAtMs: 1_750_000_000_000 + index * 1000,
  });
}

/** A config of paperStudy: its fields, grids and how often it is right. */
export interface StudyConfig {
  method: string;
  maskType: string;
  maskRatio?: number;
  maskSize?: number;
  augmentation: string;
  grids: string[];
  /** Probability that a prediction is right on the test split. */
  testSkill: number;
  /** Its validation F1 (each seed within ±0.01). */
  valF1: number;
}

const STUDY_AUGMENTATIONS = ['none', 'randomResizedCrop', 'randomFlip', 'cutmix', 'mixup'];

/**
 * The configs of k8s/examples/paper.yaml with scratch: tables-2-4 (SparK with the random 60 %
 * mask, SimCLR, MFF and scratch x 5 augmentations), tables-5-8 (SparK x 13 masks and scratch,
 * RandomResizedCrop) and table-9 (SparK and SparK dense, random 60 %, RandomResizedCrop).
 * SparK random 60 % RandomResizedCrop is in all three grids, scratch RandomResizedCrop in the
 * first two, as expansion merges them. Skills are made up and differ by config.
 */
export function paperStudyConfigs(): StudyConfig[] {
  const configs = new Map<string, StudyConfig>();
  const add = (config: Omit<StudyConfig, 'testSkill' | 'valF1'>) => {
    const key = `${config.method}-${config.maskType}-${config.maskRatio ?? config.maskSize ?? ''}-${config.augmentation}`;
    const known = configs.get(key);
    if (known) {
      known.grids.push(...config.grids.filter((g) => !known.grids.includes(g)));
      return;
    }
    const index = configs.size;
    configs.set(key, {
      ...config,
      testSkill: 0.7 + ((index * 37) % 25) / 100,
      valF1: 0.6 + ((index * 53) % 30) / 100,
    });
  };
  const random60 = { maskType: 'random', maskRatio: 0.6 };
  for (const augmentation of STUDY_AUGMENTATIONS) {
    add({ method: 'spark', ...random60, augmentation, grids: ['tables-2-4'] });
    for (const method of ['simclr', 'mff', 'scratch']) {
      add({ method, maskType: '', augmentation, grids: ['tables-2-4'] });
    }
  }
  for (const mask of MASKS) {
    add({
      method: 'spark',
      maskType: mask.maskType as string,
      maskRatio: mask.maskRatio,
      maskSize: mask.maskSize,
      augmentation: 'randomResizedCrop',
      grids: ['tables-5-8'],
    });
  }
  add({
    method: 'scratch',
    maskType: '',
    augmentation: 'randomResizedCrop',
    grids: ['tables-5-8'],
  });
  for (const method of ['spark', 'spark-dense']) {
    add({ method, ...random60, augmentation: 'randomResizedCrop', grids: ['table-9'] });
  }
  return [...configs.values()];
}

/** The Sweep's spec as RegisterSweep carries it, for the grid order and the objective. */
export const PAPER_STUDY_SPEC = JSON.stringify({
  spec: {
    grids: [{ name: 'tables-2-4' }, { name: 'tables-5-8' }, { name: 'table-9' }],
    objective: { metric: 'f1', direction: 'maximize' },
  },
});

/**
 * The results of `configs` x `seeds` on one shared test set of `images` images (30 %
 * positive), each prediction right with the config's skill; test metrics are scored from
 * the predictions, as the trial-runner does.
 */
export function studyResults(
  configs: readonly StudyConfig[],
  options: { sweep: string; seeds: number; images: number; rng: Random },
): TrialResultInput[] {
  const sampleIds = Array.from(
    { length: options.images },
    (_, i) => `ct_${String(i).padStart(4, '0')}`,
  );
  const labels = sampleIds.map((_, i) => (i % 10 < 3 ? 1 : 0));
  return configs.flatMap((config) =>
    Array.from({ length: options.seeds }, (_, seed) => {
      const predicted = labels.map((label) =>
        options.rng.float() < config.testSkill ? label : 1 - label,
      );
      const metrics = classificationMetrics(confusionMatrix(labels, predicted, 2));
      const fixture = {
        sweep: options.sweep,
        method: config.method,
        maskType: config.maskType,
        ...(config.maskRatio !== undefined && { maskRatio: config.maskRatio }),
        ...(config.maskSize !== undefined && { maskSize: config.maskSize }),
        augmentation: config.augmentation,
        seed,
        grids: config.grids,
      };
      return resultFixture({
        ...fixture,
        trial: `${options.sweep}-${fixtureConfigKey(fixture)}-s${seed}`,
        metrics: {
          accuracy: metrics.accuracy,
          precision: metrics.precision,
          recall: metrics.recall,
          f1: metrics.f1,
          macro_f1: metrics.macroF1,
        },
        valMetrics: { f1: config.valF1 + options.rng.uniform(-0.01, 0.01) },
        predictions: sampleIds.map((sampleId, i) => ({
          sampleId,
          label: labels[i] as number,
          predicted: predicted[i] as number,
          probabilities: [],
        })),
      });
    }),
  );
}
