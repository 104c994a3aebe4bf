/**
 * The paper's tables rebuilt from a sweep summary: per method, one row per augmentation
 * (its Tables 2-4: precision, recall, F1); per mask type, one row per ratio or size (its
 * Tables 5-8: accuracy, precision, recall, F1); and a mask type x setting heat map of F1.
 * Where several configs fall in one cell (other masks, augmentations or learning rates),
 * the one with the highest mean F1 stands for it, as the paper reports each setting's best.
 */
import type { ConfigSummary } from '../store/types.js';
import {
  AUGMENTATION_ORDER,
  augmentationLabel,
  byKnownOrder,
  MASK_ORDER,
  METHOD_ORDER,
  maskSettingLabel,
  maskSettingOrder,
  maskTypeLabel,
  methodLabel,
} from './format.js';

export interface PaperTableRow {
  label: string;
  /** Mean over seeds of each column's metric. */
  values: Array<number | undefined>;
  /** The highest F1 of the table (bold in the paper); ties are all best. */
  best: boolean;
  configKey: string;
  seeds: number;
}

export interface PaperTable {
  title: string;
  rowHeader: string;
  /** Metric names, in column order. */
  metrics: string[];
  rows: PaperTableRow[];
}

export interface HeatMap {
  rowLabels: string[];
  columnLabels: string[];
  /** F1 mean per [row][column]; undefined where the sweep has no such config. */
  cells: Array<Array<number | undefined>>;
  min: number;
  max: number;
}

const f1Of = (config: ConfigSummary): number => config.metrics.f1?.mean ?? Number.NEGATIVE_INFINITY;

/** The best config (by mean F1) of each group, groups keyed by `keyOf`. */
function bestByGroup(
  configs: readonly ConfigSummary[],
  keyOf: (config: ConfigSummary) => string | undefined,
): Map<string, ConfigSummary> {
  const best = new Map<string, ConfigSummary>();
  for (const config of configs) {
    const key = keyOf(config);
    if (key === undefined) continue;
    const current = best.get(key);
    if (!current || f1Of(config) > f1Of(current)) best.set(key, config);
  }
  return best;
}

function table(
  title: string,
  rowHeader: string,
  metrics: string[],
  entries: Array<[string, ConfigSummary]>,
): PaperTable {
  const bestF1 = Math.max(...entries.map(([, config]) => f1Of(config)));
  return {
    title,
    rowHeader,
    metrics,
    rows: entries.map(([label, config]) => ({
      label,
      values: metrics.map((metric) => config.metrics[metric]?.mean),
      best: Number.isFinite(bestF1) && f1Of(config) === bestF1,
      configKey: config.config.configKey,
      seeds: config.seeds.length,
    })),
  };
}

/** One table per method, in the paper's order: rows are augmentations (Tables 2-4). */
export function methodAugmentationTables(configs: readonly ConfigSummary[]): PaperTable[] {
  const methods = [...new Set(configs.map((c) => c.config.method))].sort(
    byKnownOrder(METHOD_ORDER),
  );
  return methods.map((method) => {
    const best = bestByGroup(configs, (c) =>
      c.config.method === method ? c.config.augmentation : undefined,
    );
    const augmentations = [...best.keys()].sort(byKnownOrder(AUGMENTATION_ORDER));
    return table(
      `${methodLabel(method)}: augmentation`,
      'Augmentation',
      ['precision', 'recall', 'f1'],
      augmentations.map((name) => [augmentationLabel(name), best.get(name) as ConfigSummary]),
    );
  });
}

/** One table per mask type: rows are its ratios or sizes (Tables 5-8). */
export function maskTables(configs: readonly ConfigSummary[]): PaperTable[] {
  const masked = configs.filter((c) => c.config.maskType !== '');
  const types = [...new Set(masked.map((c) => c.config.maskType))].sort(byKnownOrder(MASK_ORDER));
  return types.map((type) => {
    const best = bestByGroup(masked, (c) =>
      c.config.maskType === type ? maskSettingLabel(c.config) : undefined,
    );
    const settings = [...best.entries()].sort(
      ([, a], [, b]) => maskSettingOrder(a.config) - maskSettingOrder(b.config),
    );
    const isSize = settings.some(([, c]) => c.config.maskSize > 0);
    return table(
      `${maskTypeLabel(type)} mask`,
      isSize ? 'Mask size' : 'Masking ratio',
      ['accuracy', 'precision', 'recall', 'f1'],
      settings,
    );
  });
}

/** Mean F1 by mask type (rows) and ratio or size (columns), the best config of each cell. */
export function maskHeatMap(configs: readonly ConfigSummary[]): HeatMap {
  const masked = configs.filter((c) => c.config.maskType !== '');
  const best = bestByGroup(masked, (c) => `${c.config.maskType}\0${maskSettingLabel(c.config)}`);
  const rowLabels = [...new Set(masked.map((c) => c.config.maskType))].sort(
    byKnownOrder(MASK_ORDER),
  );
  const columns = new Map<string, number>();
  for (const c of masked) columns.set(maskSettingLabel(c.config), maskSettingOrder(c.config));
  const columnLabels = [...columns.entries()].sort(([, a], [, b]) => a - b).map(([label]) => label);
  const cells = rowLabels.map((type) =>
    columnLabels.map((label) => best.get(`${type}\0${label}`)?.metrics.f1?.mean),
  );
  const values = cells.flat().filter((v): v is number => v !== undefined);
  return {
    rowLabels: rowLabels.map(maskTypeLabel),
    columnLabels,
    cells,
    min: values.length ? Math.min(...values) : 0,
    max: values.length ? Math.max(...values) : 0,
  };
}

/** The colour step (0-10) of a heat map cell, from the map's lowest to its highest F1. */
export function heatStep(value: number, map: Pick<HeatMap, 'min' | 'max'>): number {
  if (map.max === map.min) return 10;
  return Math.round((10 * (value - map.min)) / (map.max - map.min));
}
