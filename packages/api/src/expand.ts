import { getMaskPattern, type MaskSetting, resolveMaskSetting } from '@masksweep/masks';
import { AUGMENTATIONS, type AugmentationSetting } from './augmentations.js';
import { type SweepProblem, SweepValidationError } from './errors.js';
import { gridName } from './grids.js';
import { type CanonicalMemo, canonicalJson, stableHash } from './hash.js';
import { LIMITS } from './limits.js';
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
 * The trials of a validated Sweep that run: the union of its grids (each a cross-product of
 * methods, mask settings, augmentations and seeds), de-duplicated, in a stable order, up to
 * `spec.maxTrials`. Only those are built: a grid of millions capped by maxTrials costs what
 * maxTrials costs.
 */
export function expandSweep(sweep: SweepResource): Trial[] {
  return expandSweepCounted(sweep).trials;
}

export interface CountedExpansion {
  /** The trials that run (at most `spec.maxTrials`). */
  trials: Trial[];
  /** What the grids give before duplicates are removed (countTrials). */
  counted: number;
  /** Whether maxTrials left trials of the grids out. */
  truncated: boolean;
}

/**
 * expandSweep with what it left out. Refuses (SweepValidationError on spec.grids) a Sweep
 * whose grids give more than LIMITS.trials trials without a maxTrials; validation refuses
 * it first, so this guards callers that did not validate.
 */
export function expandSweepCounted(sweep: SweepResource): CountedExpansion {
  const { spec } = sweep;
  const notRun = searchNotRunProblem(sweep);
  if (notRun) throw new SweepValidationError(sweep.metadata.name, [notRun]);
  const counted = countTrials(spec);
  const problem = trialLimitProblem(spec, counted);
  if (problem) throw new SweepValidationError(sweep.metadata.name, [problem]);
  const limit = spec.maxTrials ?? Number.POSITIVE_INFINITY;
  const grids = distinctAxes(spec);
  // The configs share their data, network and budgets: each is written out for hashing once.
  const memo: CanonicalMemo = new WeakMap();
  const budgets = new Map<Method, Budget>();
  // Trials by combination (method, mask id, augmentation id, seed), which decides the config:
  // a duplicate costs a lookup, not a hash. Each grid's combinations are distinct, so a grid
  // meets at most as many duplicates as trials exist: under maxTrials the loop makes at most
  // 2 x maxTrials turns per grid, whatever the grids' product.
  const trials = new Map<string, Trial>();
  const combinations = new Map<Trial, Combination>();
  let truncated = false;
  expansion: for (const grid of grids) {
    for (const method of grid.methods) {
      for (const mask of METHODS[method].usesMask ? grid.masks : [NO_MASK]) {
        for (const augmentation of grid.augmentations) {
          for (const seed of spec.seeds) {
            const combination = `${method}/${mask.id}/${augmentation.id}/${seed}`;
            const known = trials.get(combination);
            if (known) {
              if (!known.grids.includes(grid.name)) known.grids.push(grid.name);
              continue;
            }
            if (trials.size >= limit) {
              truncated = true;
              break expansion;
            }
            const config: TrialConfig = {
              method,
              mask: mask.setting,
              augmentation: augmentation.setting,
              seed,
              data: spec.datasets,
              model: spec.model[METHODS[method].model],
              ...budgetOf(spec, method, budgets),
            };
            const key = pretrainKey(config, memo);
            const trial: Trial = {
              name: `${sweep.metadata.name}-${stableHash(config, undefined, memo)}`,
              seed,
              ...(key !== undefined && { pretrainKey: key }),
              configKey: configKey(config, memo),
              config,
              grids: [grid.name],
            };
            trials.set(combination, trial);
            combinations.set(trial, { method, maskId: mask.id, augmentationId: augmentation.id });
          }
        }
      }
    }
  }
  const built = [...trials.values()];
  // The loop stopped early: later grids may produce these configs too, so ask each grid.
  if (truncated) {
    // Sets, not scans: 10,000 trials x 64 grids x 1,024 mask settings took a second.
    const members = grids.map((grid) => ({
      name: grid.name,
      methods: new Set(grid.methods),
      masks: new Set(grid.masks.map((m) => m.id)),
      augmentations: new Set(grid.augmentations.map((a) => a.id)),
    }));
    for (const trial of built) {
      const { method, maskId, augmentationId } = combinations.get(trial) as Combination;
      trial.grids = members
        .filter(
          (grid) =>
            grid.methods.has(method) &&
            (maskId === NO_MASK.id || grid.masks.has(maskId)) &&
            grid.augmentations.has(augmentationId),
        )
        .map((grid) => grid.name);
    }
  }
  return { trials: built, counted, truncated };
}

/**
 * What the drivers (`masksweep run`, the controller) say of a Sweep with a search until
 * they run one: a search's trials come from its suggestions (sampledTrials), not from the
 * grids, so expanding only the grids would run something else than the Sweep asks.
 */
export function searchNotRunProblem(sweep: SweepResource): SweepProblem | undefined {
  return sweep.spec.search
    ? { path: 'spec.search', message: 'searching is not run by this version yet' }
    : undefined;
}

interface Identified<T> {
  /** The same for equal settings in any grid of the Sweep. */
  id: number;
  setting: T;
}

/** A grid's methods, mask settings and augmentations, each without repeats. */
interface DistinctAxes {
  name: string;
  methods: Method[];
  masks: Identified<MaskSetting>[];
  augmentations: Identified<AugmentationSetting>[];
}

interface Combination {
  method: Method;
  maskId: number;
  augmentationId: number;
}

/** The mask of a method that takes none (its trials have mask null in every grid). */
const NO_MASK: Identified<null> = { id: -1, setting: null };

function distinctAxes(spec: SweepResource['spec']): DistinctAxes[] {
  const gridSize = spec.datasets.imageSize / 32;
  const ids = new Map<string, number>();
  function identify<T>(kind: string, settings: T[]): Identified<T>[] {
    const seen = new Set<number>();
    return settings.flatMap((setting) => {
      const key = `${kind}:${canonicalJson(setting)}`;
      const id = ids.get(key) ?? ids.size;
      ids.set(key, id);
      if (seen.has(id)) return [];
      seen.add(id);
      return [{ id, setting }];
    });
  }
  return spec.grids.map((grid, g) => ({
    name: gridName(grid, g),
    methods: [...new Set(grid.methods)],
    masks: identify(
      'mask',
      grid.masks.flatMap((entry) => maskSettings(entry, gridSize)),
    ),
    augmentations: identify('augmentation', grid.augmentations.map(resolveAugmentation)),
  }));
}

/**
 * The trials a Sweep's grids give before duplicates are removed, counted without building
 * any: per grid, (mask values for each method that takes a mask, else 1) x augmentations x
 * seeds. An upper bound of the expansion.
 */
export function countTrials(spec: SweepResource['spec']): number {
  let total = 0;
  for (const grid of spec.grids) {
    const maskValues = grid.masks.reduce((sum, entry) => sum + axisValues(entry).length, 0);
    const perCombination = grid.methods.reduce(
      (sum, method) => sum + (METHODS[method].usesMask ? maskValues : 1),
      0,
    );
    total += perCombination * grid.augmentations.length * spec.seeds.length;
  }
  return total;
}

/** The problem of a Sweep whose grids give more trials than a Sweep may have, if it is one. */
export function trialLimitProblem(
  spec: SweepResource['spec'],
  counted = countTrials(spec),
): SweepProblem | undefined {
  if (counted <= LIMITS.trials || spec.maxTrials !== undefined) return undefined;
  return {
    path: 'spec.grids',
    message: `the grids give ${counted} trials (methods x mask values x augmentations x seeds), over the limit of ${LIMITS.trials} per Sweep; split the study or set spec.maxTrials`,
  };
}

type Budget = Pick<TrialConfig, 'pretrain' | 'finetune'>;

/** A method's stages, made once per method and shared by its configs. */
function budgetOf(spec: SweepResource['spec'], method: Method, made: Map<Method, Budget>): Budget {
  const known = made.get(method);
  if (known) return known;
  // The schema gives a method without pre-training (scratch) no `pretrain` overrides.
  const overrides = spec.budgets.perMethod?.[method] as PerMethodBudgets | undefined;
  const budget: Budget = {
    pretrain: METHODS[method].pretrains
      ? { ...spec.budgets.pretrain, ...overrides?.pretrain }
      : null,
    finetune: { ...spec.budgets.finetune, ...overrides?.finetune },
  };
  made.set(method, budget);
  return budget;
}

/**
 * What pre-training depends on: method, mask, network, pre-training stage, the pre-training
 * data and how it is read, and the seed. Fine-tuning settings, the downstream data and the
 * augmentation are left out, so every fine-tuning trial that shares these reuses one run.
 * Undefined for a config without pre-training (scratch).
 */
export function pretrainKey(config: TrialConfig, memo?: CanonicalMemo): string | undefined {
  const { method, mask, model, pretrain, seed, data } = config;
  if (pretrain === null) return undefined;
  const pretrainData = { source: data.pretrain, imageSize: data.imageSize, resize: data.resize };
  return `pt-${stableHash({ method, mask, model, pretrain, seed, data: pretrainData }, undefined, memo)}`;
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
export function configKey(config: TrialConfig, memo?: CanonicalMemo): string {
  const { seed: _seed, ...rest } = config;
  return `cfg-${stableHash(rest, undefined, memo)}`;
}

/** The entry's swept values: its `ratios` or its `sizes`, as its pattern's axis says. */
function axisValues(entry: MaskEntrySpec): number[] {
  const axis = getMaskPattern(entry.type).axis;
  return (axis === 'ratio' ? entry.ratios : entry.sizes) ?? [];
}

function maskSettings(entry: MaskEntrySpec, gridSize: number): MaskSetting[] {
  const { type, ratios: _ratios, sizes: _sizes, ...options } = entry;
  const axis = getMaskPattern(type).axis;
  return axisValues(entry).map((value) =>
    resolveMaskSetting({ type, [axis]: value, ...options }, gridSize),
  );
}

function resolveAugmentation(spec: AugmentationSpec): AugmentationSetting {
  return { ...structuredClone(AUGMENTATIONS[spec.type]), ...spec } as AugmentationSetting;
}
