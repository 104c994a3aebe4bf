/**
 * How the configs of one grid are laid out in tables, in the paper's shapes where they fit:
 * a grid of methods x augmentations gives one table per method with a row per augmentation
 * (its Tables 2-4); a grid of masks gives one table per mask type with a row per ratio or
 * size (Tables 5-8); a grid of methods alone one table with a row per method (Table 9).
 * Every row is one config: when two configs of a table would share a label, each label
 * shows the config fields that tell them apart. The grid's scratch configs are not rows but
 * the reference of the rows with their augmentation (./tables.ts).
 */
import type { TrialConfig } from '@masksweep/proto';
import {
  AUGMENTATION_ORDER,
  augmentationLabel,
  byKnownOrder,
  MASK_ORDER,
  METHOD_ORDER,
  maskLabel,
  maskSettingLabel,
  maskSettingOrder,
  maskTypeLabel,
  methodLabel,
  SCRATCH_METHOD,
} from '../labels.js';

export interface TableLayout {
  grid: string;
  title: string;
  fixed: string;
  rowHeader: string;
  metrics: string[];
  rows: LabelledConfig[];
  /** For each row's config key, the grid's scratch configs with the row's augmentation. */
  referenceCandidates: Map<string, TrialConfig[]>;
}

export interface LabelledConfig {
  config: TrialConfig;
  label: string;
}

/** A field of a config that tables are split or labelled by. */
interface Factor {
  /** The value that groups and orders configs. */
  value: (config: TrialConfig) => string;
  label: (config: TrialConfig) => string;
  order: (a: TrialConfig, b: TrialConfig) => number;
}

const byValue =
  (order: readonly string[], value: (config: TrialConfig) => string) =>
  (a: TrialConfig, b: TrialConfig) =>
    byKnownOrder(order)(value(a), value(b));

const method: Factor = {
  value: (c) => c.method,
  label: (c) => methodLabel(c.method),
  order: byValue(METHOD_ORDER, (c) => c.method),
};
const augmentation: Factor = {
  value: (c) => c.augmentation,
  label: (c) => augmentationLabel(c.augmentation),
  order: byValue(AUGMENTATION_ORDER, (c) => c.augmentation),
};
const maskType: Factor = {
  value: (c) => c.maskType,
  label: (c) => (c.maskType ? `${maskTypeLabel(c.maskType)} mask` : ''),
  order: byValue(MASK_ORDER, (c) => c.maskType),
};
const maskSetting: Factor = {
  value: (c) => maskSettingLabel(c),
  label: (c) => maskSettingLabel(c),
  order: (a, b) => maskSettingOrder(a) - maskSettingOrder(b),
};
/** Mask type and setting together ("Random 60%"). */
const mask: Factor = {
  value: (c) => `${c.maskType}\u0000${maskSettingLabel(c)}`,
  label: (c) => maskLabel(c),
  order: (a, b) => maskType.order(a, b) || maskSetting.order(a, b),
};

interface Shape {
  /** The fields a table's configs share; tables differ in some of them. */
  tableBy: Factor[];
  /** The field that tells the rows of a table apart; undefined: the whole config. */
  rowBy: Factor | undefined;
  rowHeader: (rows: readonly TrialConfig[]) => string;
  metrics: string[];
}

const ALL_METRICS = ['accuracy', 'precision', 'recall', 'f1'];

/** The paper's shape for what varies in the grid. */
function shapeOf(configs: readonly TrialConfig[]): Shape {
  const varies = (factor: Factor) => new Set(configs.map(factor.value)).size > 1;
  if (varies(augmentation)) {
    return {
      tableBy: [method, mask],
      rowBy: augmentation,
      rowHeader: () => 'Augmentation',
      metrics: ['precision', 'recall', 'f1'],
    };
  }
  if (varies(mask)) {
    return {
      tableBy: [method, maskType, augmentation],
      rowBy: maskSetting,
      rowHeader: (rows) => {
        const masked = rows.filter((c) => c.maskType !== '');
        if (masked.length > 0 && masked.every((c) => c.maskSize > 0)) return 'Mask size';
        if (masked.every((c) => c.maskSize === 0)) return 'Masking ratio';
        return 'Mask setting';
      },
      metrics: ALL_METRICS,
    };
  }
  if (varies(method)) {
    return {
      tableBy: [mask, augmentation],
      rowBy: method,
      rowHeader: () => 'Method',
      metrics: ALL_METRICS,
    };
  }
  return {
    tableBy: [method, mask, augmentation],
    rowBy: undefined,
    rowHeader: () => 'Config',
    metrics: ALL_METRICS,
  };
}

/** The tables of grid `grid` from its configs (the configs whose grids name it). */
export function layoutGrid(grid: string, gridConfigs: readonly TrialConfig[]): TableLayout[] {
  const scratch = gridConfigs.filter((c) => c.method === SCRATCH_METHOD);
  let configs = gridConfigs.filter((c) => c.method !== SCRATCH_METHOD);
  let references = scratch;
  // A grid of scratch configs alone is laid out like any other, without a reference.
  if (configs.length === 0) {
    configs = scratch;
    references = [];
  }
  if (configs.length === 0) return [];
  const shape = shapeOf(configs);
  const tableKey = (c: TrialConfig) => shape.tableBy.map((f) => f.value(c)).join('\u0001');
  const tables = new Map<string, TrialConfig[]>();
  for (const config of configs) {
    const members = tables.get(tableKey(config));
    if (members) members.push(config);
    else tables.set(tableKey(config), [config]);
  }
  const compareTables = (a: TrialConfig, b: TrialConfig) => {
    for (const factor of shape.tableBy) {
      const order = factor.order(a, b);
      if (order !== 0) return order;
    }
    return 0;
  };
  const firsts = [...tables.values()].map((members) => members[0] as TrialConfig);
  // Fields the tables differ in name each table; fields all share are said once.
  const titleBy = shape.tableBy.filter((f) => new Set(firsts.map(f.value)).size > 1);
  const fixedBy = shape.tableBy.filter((f) => !titleBy.includes(f));
  const join = (factors: Factor[], config: TrialConfig) =>
    factors
      .map((f) => f.label(config))
      .filter((label) => label !== '')
      .join(' · ');
  const fixed = join(fixedBy, firsts[0] as TrialConfig);
  return [...tables.values()]
    .sort((a, b) => compareTables(a[0] as TrialConfig, b[0] as TrialConfig))
    .map((members) => {
      const rowBy = shape.rowBy;
      const ordered = [...members].sort(
        (a, b) => (rowBy ? rowBy.order(a, b) : 0) || (a.configKey < b.configKey ? -1 : 1),
      );
      const title = join(titleBy, members[0] as TrialConfig);
      const candidates = new Map(
        ordered.map((config) => [
          config.configKey,
          references.filter((r) => augmentationOf(r) === augmentationOf(config)),
        ]),
      );
      return {
        grid,
        title: title || fixed || grid,
        fixed: title ? fixed : '',
        rowHeader: shape.rowHeader(ordered),
        metrics: shape.metrics,
        rows: distinctLabels(
          ordered.map((config) => ({
            config,
            label: rowBy ? rowBy.label(config) : configLabelOf(config),
          })),
        ),
        referenceCandidates: candidates,
      };
    });
}

function configLabelOf(config: TrialConfig): string {
  return [method.label(config), maskLabel(config), augmentation.label(config)]
    .filter((label) => label !== '')
    .join(' · ');
}

/** The label of a scratch reference row. */
export function scratchLabel(config: TrialConfig): string {
  return `${methodLabel(config.method)} · ${augmentationLabel(config.augmentation)}`;
}

/**
 * The labels, with the config fields that differ appended where two configs share one
 * (`RandomResizedCrop · augmentation.scale=[0.5,1]`), so that no row stands for two configs.
 */
export function distinctLabels(entries: readonly LabelledConfig[]): LabelledConfig[] {
  const byLabel = new Map<string, LabelledConfig[]>();
  for (const entry of entries) {
    const same = byLabel.get(entry.label);
    if (same) same.push(entry);
    else byLabel.set(entry.label, [entry]);
  }
  const labels = new Map<LabelledConfig, string>();
  for (const [label, same] of byLabel) {
    if (same.length === 1) continue;
    const fields = same.map((e) => flatten(e.config));
    const paths = [...new Set(fields.flatMap((f) => [...f.keys()]))]
      .filter((path) => new Set(fields.map((f) => f.get(path))).size > 1)
      .sort();
    same.forEach((entry, i) => {
      const own = fields[i] as Map<string, string>;
      const shown = paths.slice(0, 3).map((path) => `${path}=${own.get(path) ?? 'none'}`);
      if (paths.length > 3) shown.push('…');
      if (shown.length === 0) shown.push(`config ${entry.config.configKey}`);
      labels.set(entry, `${label} · ${shown.join(' · ')}`);
    });
  }
  return entries.map((entry) => {
    const label = labels.get(entry);
    return label === undefined ? entry : { ...entry, label };
  });
}

/**
 * Parsed and flattened configs, kept while their summary is: a sweep's tables are laid out
 * again after every result, a config's JSON does not change.
 */
const parsedConfigs = new WeakMap<TrialConfig, Record<string, unknown>>();
const flattenedConfigs = new WeakMap<TrialConfig, Map<string, string>>();

/** The config's JSON as path -> value (arrays are values); the seed left out. */
function flatten(config: TrialConfig): Map<string, string> {
  const known = flattenedConfigs.get(config);
  if (known) return known;
  const fields = new Map<string, string>();
  flattenedConfigs.set(config, fields);
  const walk = (value: unknown, path: string) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, path ? `${path}.${key}` : key);
    } else if (path !== 'seed') {
      fields.set(path, JSON.stringify(value));
    }
  };
  walk(parseConfig(config), '');
  return fields;
}

/** The augmentation with its parameters, as comparable text. */
function augmentationOf(config: TrialConfig): string {
  const parsed = parseConfig(config) as { augmentation?: unknown };
  return parsed.augmentation === undefined
    ? config.augmentation
    : stableStringify(parsed.augmentation);
}

function parseConfig(config: TrialConfig): Record<string, unknown> {
  let parsed = parsedConfigs.get(config);
  if (!parsed) {
    try {
      const value = JSON.parse(config.configJson) as unknown;
      parsed =
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    parsedConfigs.set(config, parsed);
  }
  return parsed;
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}
