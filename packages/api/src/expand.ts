import { getMaskPattern, type MaskSetting, resolveMaskSetting } from '@masksweep/masks';
import { AUGMENTATIONS, type AugmentationSetting } from './augmentations.js';
import { gridName } from './grids.js';
import { stableHash } from './hash.js';
import { METHODS, type Method } from './methods.js';
import type {
  AugmentationSpec,
  DatasetsSpec,
  MaskEntrySpec,
  ModelSpec,
  StageSpec,
  SweepResource,
} from './schema.js';

/** Everything one trial runs with, fully resolved: the same config always gives the same run. */
export interface TrialConfig {
  method: Method;
  /** SparK's mask; null for methods without one (SimCLR, MFF). */
  mask: MaskSetting | null;
  augmentation: AugmentationSetting;
  seed: number;
  data: DatasetsSpec;
  /** The network of this method only (ConvNeXt, ResNet or ViT). */
  model: ModelSpec[keyof ModelSpec];
  /** null for a method without pre-training (scratch): the pre-training budget is not its. */
  pretrain: StageSpec | null;
  finetune: StageSpec;
}

export interface Trial {
  /** `<sweep>-<hash of config>`: stable across re-expansion, unique per config and seed. */
  name: string;
  seed: number;
  /**
   * Hash of what pre-training depends on; trials sharing it share one pre-training run.
   * Absent for a method without pre-training (scratch): the trial is one fine-tuning run.
   */
  pretrainKey?: string;
  /** Hash of the config without its seed: the trials of one config over seeds share it. */
  configKey: string;
  config: TrialConfig;
  /**
   * The names of the grids that produce this config (gridName), in grid order; not part of
   * the name or the keys: the same config in two grids is one trial in both.
   */
  grids: string[];
}

/** A trial of a method with a pre-training stage (every method but scratch). */
export type PretrainedTrial = Trial & {
  pretrainKey: string;
  config: TrialConfig & { pretrain: StageSpec };
};

/** Whether the trial has a pre-training stage, its key and budget. */
export function hasPretraining(trial: Trial): trial is PretrainedTrial {
  return trial.pretrainKey !== undefined && trial.config.pretrain !== null;
}

/** A method's changes to the budgets (`spec.budgets.perMethod.<method>`). */
interface PerMethodBudgets {
  pretrain?: Partial<StageSpec>;
  finetune?: Partial<StageSpec>;
}

/**
 * The trials of a validated Sweep: the union of its grids (each a cross-product of methods,
 * mask settings, augmentations and seeds), de-duplicated, in a stable order.
 */
export function expandSweep(sweep: SweepResource): Trial[] {
  const { spec } = sweep;
  const gridSize = spec.datasets.imageSize / 32;
  const trials = new Map<string, Trial>();
  for (const [g, grid] of spec.grids.entries()) {
    const ofGrid = gridName(grid, g);
    const masks = grid.masks.flatMap((entry) => maskSettings(entry, gridSize));
    for (const method of grid.methods) {
      // The schema gives a method without pre-training (scratch) no `pretrain` overrides.
      const overrides = spec.budgets.perMethod?.[method] as PerMethodBudgets | undefined;
      for (const mask of METHODS[method].usesMask ? masks : [null]) {
        for (const augmentationSpec of grid.augmentations) {
          for (const seed of spec.seeds) {
            const config: TrialConfig = {
              method,
              mask,
              augmentation: resolveAugmentation(augmentationSpec),
              seed,
              data: spec.datasets,
              model: spec.model[METHODS[method].model],
              pretrain: METHODS[method].pretrains
                ? { ...spec.budgets.pretrain, ...overrides?.pretrain }
                : null,
              finetune: { ...spec.budgets.finetune, ...overrides?.finetune },
            };
            const name = `${sweep.metadata.name}-${stableHash(config)}`;
            const known = trials.get(name);
            if (known) {
              if (!known.grids.includes(ofGrid)) known.grids.push(ofGrid);
              continue;
            }
            const key = pretrainKey(config);
            trials.set(name, {
              name,
              seed,
              ...(key !== undefined && { pretrainKey: key }),
              configKey: configKey(config),
              config,
              grids: [ofGrid],
            });
          }
        }
      }
    }
  }
  return [...trials.values()];
}

/**
 * What pre-training depends on: method, mask, network, pre-training stage, the pre-training
 * data and how it is read, and the seed. Fine-tuning settings, the downstream data and the
 * augmentation are left out, so every fine-tuning trial that shares these reuses one run.
 * Undefined for a config without pre-training (scratch).
 */
export function pretrainKey(config: TrialConfig): string | undefined {
  const { method, mask, model, pretrain, seed, data } = config;
  if (pretrain === null) return undefined;
  const pretrainData = { source: data.pretrain, imageSize: data.imageSize, resize: data.resize };
  return `pt-${stableHash({ method, mask, model, pretrain, seed, data: pretrainData })}`;
}

/** The fields of a trial that tables, filters and printer columns show. */
export interface TrialSummary {
  method: Method;
  /** Empty for methods without a SparK mask. */
  maskType: string;
  /** 0 when the mask has no ratio (square takes a size). */
  maskRatio: number;
  maskSize: number;
  augmentation: string;
  seed: number;
  /** Absent for a method without pre-training (scratch). */
  pretrainKey?: string;
  configKey: string;
}

export function trialSummary(trial: Pick<Trial, 'config' | 'pretrainKey'>): TrialSummary {
  const { config } = trial;
  return {
    method: config.method,
    maskType: config.mask?.type ?? '',
    maskRatio: config.mask?.ratio ?? 0,
    maskSize: config.mask?.size ?? 0,
    augmentation: config.augmentation.type,
    seed: config.seed,
    ...(trial.pretrainKey !== undefined && { pretrainKey: trial.pretrainKey }),
    configKey: configKey(config),
  };
}

/** What a result is aggregated over seeds by: the whole config but its seed. */
export function configKey(config: TrialConfig): string {
  const { seed: _seed, ...rest } = config;
  return `cfg-${stableHash(rest)}`;
}

function maskSettings(entry: MaskEntrySpec, gridSize: number): MaskSetting[] {
  const { type, ratios, sizes, ...options } = entry;
  const pattern = getMaskPattern(type);
  const values = (pattern.axis === 'ratio' ? ratios : sizes) ?? [];
  return values.map((value) =>
    resolveMaskSetting({ type, [pattern.axis]: value, ...options }, gridSize),
  );
}

function resolveAugmentation(spec: AugmentationSpec): AugmentationSetting {
  return { ...structuredClone(AUGMENTATIONS[spec.type]), ...spec } as AugmentationSetting;
}
