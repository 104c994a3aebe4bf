/**
 * How configs are named to people: methods, augmentations, masks and their settings, and
 * the order the paper lists them in. The tables (analysis) and the pages (web) both use
 * these; all return plain text (pages escape it).
 */
import type { TrialConfig } from '@masksweep/proto';

export const DASH = '—';

// In the paper's table order: SimCLR (Table 2), MFF (Table 3), SparK (Table 4); then the
// dense ablation (Table 9) and the reference without pre-training.
const METHOD_LABELS: Record<string, string> = {
  simclr: 'SimCLR',
  mff: 'MFF',
  spark: 'SparK',
  'spark-dense': 'SparK (dense)',
  scratch: 'Scratch',
};
const AUGMENTATION_LABELS: Record<string, string> = {
  none: 'None',
  randomResizedCrop: 'RandomResizedCrop',
  randomFlip: 'RandomFlip',
  cutmix: 'CutMix',
  mixup: 'Mixup',
};
const MASK_LABELS: Record<string, string> = {
  square: 'Square',
  blockwise: 'Block-wise',
  random: 'Random',
  mesh: 'Mesh',
};

/** The method trained from random weights: the reference row of the tables. */
export const SCRATCH_METHOD = 'scratch';

export const methodLabel = (method: string): string => METHOD_LABELS[method] ?? method;
export const augmentationLabel = (name: string): string =>
  AUGMENTATION_LABELS[name] || name || DASH;
export const maskTypeLabel = (type: string): string => MASK_LABELS[type] ?? (type || DASH);

/** The order the paper lists methods, augmentations and masks in; others follow alphabetically. */
export const METHOD_ORDER = Object.keys(METHOD_LABELS);
export const AUGMENTATION_ORDER = Object.keys(AUGMENTATION_LABELS);
export const MASK_ORDER = Object.keys(MASK_LABELS);

export function byKnownOrder(order: readonly string[]) {
  return (a: string, b: string): number => {
    const rank = (value: string) => {
      const index = order.indexOf(value);
      return index === -1 ? order.length : index;
    };
    return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
  };
}

/** A mask setting: "2×2" for a size, "60%" for a ratio, a dash for no mask. */
export function maskSettingLabel(
  config: Pick<TrialConfig, 'maskType' | 'maskRatio' | 'maskSize'>,
): string {
  if (!config.maskType) return DASH;
  if (config.maskSize > 0) return `${config.maskSize}×${config.maskSize}`;
  return `${Math.round(config.maskRatio * 1000) / 10}%`;
}

/** Sorts mask settings: sizes before ratios, each ascending. */
export function maskSettingOrder(config: Pick<TrialConfig, 'maskRatio' | 'maskSize'>): number {
  return config.maskSize > 0 ? config.maskSize - 1000 : config.maskRatio;
}

/** A mask with its setting ("Random 60%"), empty for a config without a mask. */
export function maskLabel(
  config: Pick<TrialConfig, 'maskType' | 'maskRatio' | 'maskSize'>,
): string {
  return config.maskType ? `${maskTypeLabel(config.maskType)} ${maskSettingLabel(config)}` : '';
}

export function configLabel(config: TrialConfig): string {
  const mask = config.maskType ? ` · ${maskLabel(config)}` : '';
  return `${methodLabel(config.method)}${mask} · ${augmentationLabel(config.augmentation)}`;
}
