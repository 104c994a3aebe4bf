/**
 * Heat maps of test F1 by mask type (rows) and ratio or size (columns), one per grid and per
 * set of configs that differ only in their mask, so that each cell is one config's mean over
 * seeds: nothing is pooled.
 */
import type { TrialConfig } from '@masksweep/proto';
import {
  augmentationLabel,
  byKnownOrder,
  MASK_ORDER,
  maskSettingLabel,
  maskSettingOrder,
  maskTypeLabel,
  methodLabel,
  SCRATCH_METHOD,
} from '../labels.js';
import type { ConfigSummary } from '../store/types.js';

export interface HeatCell {
  value: number;
  configKey: string;
}

export interface HeatMap {
  grid: string;
  /** What the map's configs share beside the mask. */
  title: string;
  rowLabels: string[];
  columnLabels: string[];
  /** Test F1 mean per [row][column]; undefined where the grid has no such config. */
  cells: Array<Array<HeatCell | undefined>>;
  min: number;
  max: number;
}

/** The maps of each grid (in `gridOrder`, then by name) that have two mask settings or more. */
export function maskHeatMaps(
  configs: readonly ConfigSummary[],
  gridOrder: readonly string[],
): HeatMap[] {
  // Each grid's masked configs in one pass (in config order): linear in the sweep's size.
  const byGrid = new Map<string, ConfigSummary[]>();
  for (const config of configs) {
    const masked = config.config.maskType !== '' && config.config.method !== SCRATCH_METHOD;
    for (const grid of config.config.grids) {
      const members = byGrid.get(grid) ?? [];
      if (masked) members.push(config);
      byGrid.set(grid, members);
    }
  }
  const named = [...byGrid.keys()].sort();
  const grids = [...new Set([...gridOrder.filter((g) => byGrid.has(g)), ...named])];
  return grids.flatMap((grid) => {
    const masked = byGrid.get(grid) ?? [];
    const groups = new Map<string, ConfigSummary[]>();
    for (const config of masked) {
      const key = withoutMask(config.config);
      const members = groups.get(key);
      if (members) members.push(config);
      else groups.set(key, [config]);
    }
    const titles = new Map<string, number>();
    return [...groups.values()]
      .filter((members) => members.length > 1)
      .map((members) => {
        const first = (members[0] as ConfigSummary).config;
        let title = `${methodLabel(first.method)} · ${augmentationLabel(first.augmentation)}`;
        // Maps of one grid that differ in another field: numbered rather than merged.
        const seen = (titles.get(title) ?? 0) + 1;
        titles.set(title, seen);
        if (seen > 1) title = `${title} (${seen})`;
        return heatMap(grid, title, members);
      });
  });
}

function heatMap(grid: string, title: string, members: readonly ConfigSummary[]): HeatMap {
  const types = [...new Set(members.map((c) => c.config.maskType))].sort(byKnownOrder(MASK_ORDER));
  const columns = new Map<string, number>();
  for (const c of members) columns.set(maskSettingLabel(c.config), maskSettingOrder(c.config));
  const columnLabels = [...columns.entries()].sort(([, a], [, b]) => a - b).map(([label]) => label);
  const cells = types.map((type) =>
    columnLabels.map((label) => {
      const config = members.find(
        (c) => c.config.maskType === type && maskSettingLabel(c.config) === label,
      );
      const value = config?.metrics.f1?.mean;
      return config && value !== undefined && Number.isFinite(value)
        ? { value, configKey: config.config.configKey }
        : undefined;
    }),
  );
  const values = cells.flat().flatMap((cell) => (cell ? [cell.value] : []));
  return {
    grid,
    title,
    rowLabels: types.map(maskTypeLabel),
    columnLabels,
    cells,
    min: values.length ? Math.min(...values) : 0,
    max: values.length ? Math.max(...values) : 0,
  };
}

/** The config without its mask: configs equal in this differ only in the mask. */
function withoutMask(config: TrialConfig): string {
  try {
    const { mask: _mask, ...rest } = JSON.parse(config.configJson) as Record<string, unknown>;
    return `${config.method}\u0000${JSON.stringify(rest)}`;
  } catch {
    return `${config.method}\u0000${config.augmentation}`;
  }
}

/** The colour step (0-10) of a heat map cell, from the map's lowest to its highest F1. */
export function heatStep(value: number, map: Pick<HeatMap, 'min' | 'max'>): number {
  if (map.max === map.min) return 10;
  return Math.round((10 * (value - map.min)) / (map.max - map.min));
}
