/** How the view writes numbers and config values; all return plain text (escaped later). */
import type { MetricSummary, TrialConfig } from '@masksweep/proto';

const DASH = '—';

/** A fraction as a percentage with one decimal, as the paper's tables (0.8765 -> 87.7). */
export function score(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : (value * 100).toFixed(1);
}

/** "[85.1, 90.3]", or empty when the interval is undefined (one seed). */
export function interval(summary: MetricSummary | undefined): string {
  if (!summary || !Number.isFinite(summary.ciLow)) return '';
  return `[${score(summary.ciLow)}, ${score(summary.ciHigh)}]`;
}

// In the paper's table order: SimCLR (Table 2), MFF (Table 3), SparK (Table 4).
const METHOD_LABELS: Record<string, string> = { simclr: 'SimCLR', mff: 'MFF', spark: 'SparK' };
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

export function configLabel(config: TrialConfig): string {
  const mask = config.maskType
    ? ` · ${maskTypeLabel(config.maskType)} ${maskSettingLabel(config)}`
    : '';
  return `${methodLabel(config.method)}${mask} · ${augmentationLabel(config.augmentation)}`;
}

export function timestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}
