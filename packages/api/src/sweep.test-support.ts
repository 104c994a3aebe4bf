/**
 * The tiny Sweep of the tests and benches: phantom data at 64 px, the smallest ConvNeXt and
 * one epoch per stage, so that a trial that really trains takes seconds. Imported as
 * `@masksweep/api/test-support` by tests and benches only; left out of the package's build,
 * so production code cannot load it. No vitest here: the benches run without it.
 */
import { stringify } from 'yaml';
import { hasPretraining, type PretrainedTrial, type Trial } from './expand.js';
import { LIMITS } from './limits.js';
import { METHOD_NAMES } from './methods.js';
import { API_VERSION, type AugmentationSpec, type GridSpec, type MaskEntrySpec } from './schema.js';

export interface TinySweepOptions {
  /** @default [0] */
  seeds?: number[];
  /** @default ['spark'] */
  methods?: GridSpec['methods'];
  /** @default [{ type: 'random', ratios: [0.6] }] */
  masks?: MaskEntrySpec[];
  /** @default [{ type: 'none' }] */
  augmentations?: AugmentationSpec[];
  /** @default 4 */
  parallelism?: number;
  /** @default 2 */
  retries?: number;
  /** Epochs of each stage. @default 1 each */
  epochs?: { pretrain?: number; finetune?: number };
  /** A pre-training folder instead of phantoms (none need exist: scripted workloads never read it). */
  pretrainPath?: string;
  /** The downstream split; absent: the schema's default. */
  splits?: { train: number; val: number; test: number };
  /** More fields of `spec`, e.g. `pruner` or `maxFailedTrials`. */
  spec?: Record<string, unknown>;
}

/** A Sweep manifest as a user writes it (before validation fills the defaults). */
export interface SweepManifest {
  apiVersion: string;
  kind: 'Sweep';
  metadata: { name: string };
  spec: Record<string, unknown>;
}

/** A Sweep of tiny trials on phantoms; pass it to `validateSweep`, or use `tinySweepYaml`. */
export function tinySweep(name: string, options: TinySweepOptions = {}): SweepManifest {
  const stage = { batchSize: 4, optimizer: 'adamw', lr: 1e-3, warmupEpochs: 0 };
  return {
    apiVersion: API_VERSION,
    kind: 'Sweep',
    metadata: { name },
    spec: {
      datasets: {
        pretrain: options.pretrainPath
          ? { path: options.pretrainPath }
          : { phantom: { count: 8, seed: 1 } },
        downstream: { phantom: { count: 24, seed: 2 } },
        imageSize: 64,
        ...(options.splits && { splits: options.splits }),
      },
      grids: [
        {
          methods: options.methods ?? ['spark'],
          masks: options.masks ?? [{ type: 'random', ratios: [0.6] }],
          augmentations: options.augmentations ?? [{ type: 'none' }],
        },
      ],
      seeds: options.seeds ?? [0],
      model: {
        convnext: { depths: [1, 1, 1, 1], widths: [8, 16, 32, 64], dropPath: 0, decoderWidth: 32 },
      },
      budgets: {
        pretrain: { epochs: options.epochs?.pretrain ?? 1, ...stage, weightDecay: 0.04 },
        finetune: { epochs: options.epochs?.finetune ?? 1, ...stage, weightDecay: 0.05 },
      },
      parallelism: options.parallelism ?? 4,
      retries: options.retries ?? 2,
      ...options.spec,
    },
  };
}

/** A trial the test knows to pre-train (not scratch), typed so; throws for any other. */
export function pretrainedTrial(trial: Trial | undefined): PretrainedTrial {
  if (!trial || !hasPretraining(trial))
    throw new Error(`${trial?.name ?? 'no trial'}: expected a trial with a pre-training stage`);
  return trial;
}

/** `tinySweep` as YAML, for kubectl apply and the CLI's files. */
export function tinySweepYaml(name: string, options: TinySweepOptions = {}): string {
  return stringify(tinySweep(name, options));
}

/**
 * A Sweep inside every schema bound whose one grid gives 1,024,000 trials (32 mask entries
 * of 32 ratios, 10 augmentations, 100 seeds): over the trial limit, so validation must
 * count it, not build it.
 */
export function hugeGridSweep(name: string, spec: Record<string, unknown> = {}): SweepManifest {
  const ratios = Array.from({ length: 32 }, (_, i) => 0.1 + i / 40);
  const sweep = tinySweep(name, {
    masks: Array.from({ length: 32 }, () => ({ type: 'random', ratios })),
    augmentations: Array.from({ length: 10 }, (_, i) => ({ type: 'randomFlip', p: (i + 1) / 10 })),
    seeds: Array.from({ length: 100 }, (_, i) => i),
    spec,
  });
  (sweep.spec.datasets as { imageSize: number }).imageSize = 1024;
  return sweep;
}

/**
 * The largest Sweep the limits allow, in what validation and expansion cost: every grid,
 * mask value and augmentation distinct (LIMITS.sweepMaskValues mask values in all), every
 * method, all seeds, the largest image, and maxTrials LIMITS.trials.
 */
export function largestSweep(name: string): SweepManifest {
  const types = ['random', 'blockwise', 'mesh'] as const;
  // The Sweep's mask values spread evenly over its grids' entries.
  const entries = LIMITS.sweepMaskValues / LIMITS.grids / LIMITS.axisValues;
  const masks = (grid: number) =>
    Array.from({ length: Math.max(1, entries) }, (_, m) => ({
      type: types[m % types.length],
      ratios: Array.from(
        { length: Math.min(LIMITS.axisValues, LIMITS.sweepMaskValues / LIMITS.grids) },
        (_, v) => 0.1 + v / 40 + m * 1e-4 + grid * 1e-6,
      ),
      ...(m % 3 === 2 && { overflow: 'clamp' }),
    }));
  const augmentations = Array.from({ length: LIMITS.augmentationsPerGrid }, (_, a) => ({
    type: 'randomFlip' as const,
    p: a / LIMITS.augmentationsPerGrid,
  }));
  const sweep = tinySweep(name, {
    seeds: Array.from({ length: LIMITS.seeds }, (_, i) => i),
    spec: { maxTrials: LIMITS.trials },
  });
  sweep.spec.grids = Array.from({ length: LIMITS.grids }, (_, g) => ({
    name: `grid-${g}`,
    methods: [...METHOD_NAMES],
    masks: masks(g),
    augmentations,
  }));
  (sweep.spec.datasets as { imageSize: number }).imageSize = LIMITS.imageSize;
  return sweep;
}
