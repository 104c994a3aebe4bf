/**
 * Results as a trial-runner would report them, for tests and the benchmark: a config in the
 * shape @masksweep/api expands (method, mask, augmentation, seed, finetune, ...) and the
 * proto's flattened fields taken from it.
 */
import type { Random } from '@masksweep/random';
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
    confusionMatrix: { numClasses: 2, counts: fixture.counts ?? [40, 5, 3, 12] },
    metrics: fixture.metrics ?? { f1: 0.75, precision: 0.7, recall: 0.8, accuracy: 0.87 },
    valMetrics: fixture.valMetrics ?? { f1: 0.78, precision: 0.74, recall: 0.82, accuracy: 0.88 },
    predictions: fixture.predictions ?? [],
    artifacts: fixture.artifacts ?? [],
    finishedAtMs: fixture.finishedAtMs ?? 1_750_000_000_000,
    durationSeconds: 120,
  };
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
 * metrics drawn from `rng` around a per-config level.
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
    finishedAtMs: 1_750_000_000_000 + index * 1000,
  });
}
