/**
 * What a table row shows, looked up in the sweep summary it came with: the config's (or the
 * trivial classifier's) test metrics, its validation metrics and its seeds. The web view
 * and `masksweep report` render tables from these.
 */
import type * as proto from '@masksweep/proto';
import { TableRowKind } from '@masksweep/proto';

export interface ResolvedRow {
  row: proto.TableRow;
  /** Test metrics. */
  metrics: Record<string, proto.MetricSummary>;
  /** Validation metrics; none for a trivial classifier. */
  valMetrics: Record<string, proto.MetricSummary>;
  /** The config's seeds; none for a trivial classifier. */
  seeds: number[];
  /** The config (seed 0); null for a trivial classifier. */
  config: proto.TrialConfig | null;
}

type SummaryTables = Pick<proto.SweepSummary, 'configs' | 'trivial'>;

/**
 * The configs by key, made once per summary's configs (a summary brought up to date gets a
 * new array): a page resolves several tables of one summary, a sweep may have 10^4 configs.
 */
const configsByKey = new WeakMap<
  readonly proto.ConfigSummary[],
  Map<string, proto.ConfigSummary>
>();

export function resolveRows(summary: SummaryTables, table: proto.ResultTable): ResolvedRow[] {
  let configs = configsByKey.get(summary.configs);
  if (!configs) {
    configs = new Map(summary.configs.map((c) => [c.config?.configKey ?? '', c]));
    configsByKey.set(summary.configs, configs);
  }
  const trivial = new Map(
    summary.trivial.filter((t) => t.testSet === table.testSet).map((t) => [t.name, t]),
  );
  return table.rows.map((row) => {
    if (row.kind === TableRowKind.TABLE_ROW_KIND_TRIVIAL) {
      return {
        row,
        metrics: trivial.get(row.trivial)?.metrics ?? {},
        valMetrics: {},
        seeds: [],
        config: null,
      };
    }
    const config = configs.get(row.configKey);
    return {
      row,
      metrics: config?.metrics ?? {},
      valMetrics: config?.valMetrics ?? {},
      seeds: config?.seeds ?? [],
      config: config?.config ?? null,
    };
  });
}

/** The tables of each grid, in the summary's order. */
export function tablesByGrid(
  tables: readonly proto.ResultTable[],
): Array<{ grid: string; tables: proto.ResultTable[] }> {
  const grids = new Map<string, proto.ResultTable[]>();
  for (const table of tables) {
    const members = grids.get(table.grid);
    if (members) members.push(table);
    else grids.set(table.grid, [table]);
  }
  return [...grids].map(([grid, members]) => ({ grid, tables: members }));
}

/** A ranking sort key's value of a config: `val_<metric>` (validation), a test metric, or n. */
export function rankingValue(config: proto.ConfigSummary, key: string): number | undefined {
  if (key === 'n') return config.seeds.length;
  const mean = key.startsWith('val_')
    ? config.valMetrics[key.slice('val_'.length)]?.mean
    : config.metrics[key]?.mean;
  return mean === undefined || !Number.isFinite(mean) ? undefined : mean;
}

/** The ranking's order of configs by a sort key, configs without a value last. */
export function rankingOrder(key: string, order: 'asc' | 'desc') {
  const sign = order === 'desc' ? -1 : 1;
  const keyOf = (config: proto.ConfigSummary) => config.config?.configKey ?? '';
  return (a: proto.ConfigSummary, b: proto.ConfigSummary): number => {
    const [x, y] = [rankingValue(a, key), rankingValue(b, key)];
    if (x !== undefined && y !== undefined && x !== y) return sign * (x - y);
    if ((x === undefined) !== (y === undefined)) return x === undefined ? 1 : -1;
    return keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
  };
}

/** Points with one decimal, for plain-text lines. */
function points(fraction: number): string {
  return (fraction * 100).toFixed(1);
}

/**
 * The table's test set and what its comparisons could detect, in words: "Test set: 40
 * images x 3 seeds (the same images for every seed). Smallest F1 difference ...".
 */
export function testSetLine(table: proto.ResultTable, confidence: number): string {
  if (table.testImages === 0) {
    return 'No stored test predictions: no intervals and no comparisons.';
  }
  const seeds =
    table.minSeeds === table.maxSeeds
      ? `${table.maxSeeds} seed${table.maxSeeds === 1 ? '' : 's'}`
      : `${table.minSeeds}-${table.maxSeeds} seeds`;
  const metric = table.comparisonMetric.toUpperCase().replace('_', ' ');
  const alpha = Math.round((1 - confidence) * 1000) / 1000;
  const detectable =
    table.comparisons > 0
      ? ` Smallest ${metric} difference its comparisons with scratch detect (80 % power, two-sided α = ${alpha}): ${points(table.detectableDifference)} points (median over ${table.comparisons}).`
      : '';
  return `Test set: ${table.testImages} images × ${seeds}.${detectable}`;
}
