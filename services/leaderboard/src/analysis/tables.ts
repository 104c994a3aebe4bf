/**
 * The tables of a sweep: for each grid, its tables (./table-layout.ts), each with its
 * reference rows (the grid's scratch config with the row's augmentation, and the trivial
 * classifiers of the test set), each config row compared with its scratch reference (the
 * paired two-stage bootstrap, Holm's adjustment over the table's comparisons), the smallest
 * difference the table could detect, and the row chosen on validation.
 */

import { validationMetricName } from '@masksweep/api/contracts';
import {
  type ConfigSummary,
  type PairedDifference,
  type ResultTable,
  type TableRow,
  TableRowKind,
  type TrialConfig,
  type TrivialSummary,
} from '@masksweep/proto';
import { holm } from '@masksweep/stats';
import { SCORED_METRICS } from './config-summary.js';
import { distinctLabels, layoutGrid, scratchLabel, type TableLayout } from './table-layout.js';

export interface Objective {
  /** The metric's wire name (f1, macro_f1). */
  metric: string;
  minimizes: boolean;
}

export interface TableInputs {
  objective: Objective;
  /**
   * metric(row) − metric(reference) for each pair, or why it cannot be compared; called once
   * with every pair of a grid's tables, so that comparisons with one reference can share
   * their resampling.
   */
  compare: (
    pairs: readonly ComparedPair[],
    metric: string,
  ) => Map<string, PairedDifference | string>;
  /** The trivial classifiers of a test set. */
  trivialOf: (testSet: string) => readonly TrivialSummary[];
}

export interface ComparedPair {
  row: string;
  reference: string;
}

/** The key of a pair in the map `compare` returns. */
export const pairKey = (pair: ComparedPair): string => `${pair.row}\u0000${pair.reference}`;

/** Grid names in `gridOrder` (the Sweep's) first, then by name. */
export function orderGrids(grids: Iterable<string>, gridOrder: readonly string[]): string[] {
  const named = new Set(grids);
  return [...new Set([...gridOrder.filter((g) => named.has(g)), ...[...named].sort()])];
}

/** The tables of one grid from its configs (references are configs of the grid too). */
export function buildGridTables(
  grid: string,
  configs: readonly ConfigSummary[],
  inputs: TableInputs,
): ResultTable[] {
  const byKey = new Map(configs.map((c) => [(c.config as TrialConfig).configKey, c] as const));
  const members = configs.map((c) => c.config as TrialConfig);
  const layouts = layoutGrid(grid, members);
  const { objective } = inputs;
  const choice = (key: string) => byKey.get(key)?.valMetrics[objective.metric]?.mean ?? Number.NaN;
  const better = (a: number, b: number) => (objective.minimizes ? a < b : a > b);
  const references = layouts.map((layout) => referencesOf(layout, choice, better));
  const pairs = references.flatMap((referenceOf) =>
    [...referenceOf].map(([row, reference]) => ({ row, reference: reference.configKey })),
  );
  const metric = SCORED_METRICS.has(objective.metric) ? objective.metric : 'f1';
  const comparisons = pairs.length > 0 ? inputs.compare(pairs, metric) : new Map();
  return layouts.map((layout, i) =>
    buildTable(layout, references[i] as Map<string, TrialConfig>, {
      summaryOf: (key) => byKey.get(key) as ConfigSummary,
      choice,
      better,
      metric,
      comparisons,
      inputs,
    }),
  );
}

/**
 * Each row's reference: of the grid's scratch configs with its augmentation, the one best
 * on validation (a Sweep's grid has one; several only if other fields vary).
 */
function referencesOf(
  layout: TableLayout,
  choice: (key: string) => number,
  better: (a: number, b: number) => boolean,
): Map<string, TrialConfig> {
  const referenceOf = new Map<string, TrialConfig>();
  for (const row of layout.rows) {
    const candidates = layout.referenceCandidates.get(row.config.configKey) ?? [];
    const chosen = candidates.reduce<TrialConfig | undefined>((best, candidate) => {
      if (!best) return candidate;
      const [value, bestValue] = [choice(candidate.configKey), choice(best.configKey)];
      return better(value, bestValue) || (Number.isNaN(bestValue) && !Number.isNaN(value))
        ? candidate
        : best;
    }, undefined);
    if (chosen) referenceOf.set(row.config.configKey, chosen);
  }
  return referenceOf;
}

interface TableContext {
  summaryOf: (key: string) => ConfigSummary;
  choice: (key: string) => number;
  better: (a: number, b: number) => boolean;
  metric: string;
  comparisons: Map<string, PairedDifference | string>;
  inputs: TableInputs;
}

function buildTable(
  layout: TableLayout,
  referenceOf: Map<string, TrialConfig>,
  context: TableContext,
): ResultTable {
  const { summaryOf, choice, better, inputs } = context;
  const { objective } = inputs;
  const comparisonMetric = context.metric;

  const gridHasScratch = [...layout.referenceCandidates.values()].some((c) => c.length > 0);

  const comparisons = layout.rows.map((row) => {
    const reference = referenceOf.get(row.config.configKey);
    if (!reference) {
      return gridHasScratch
        ? `the grid has no scratch config with this row's augmentation`
        : undefined;
    }
    return context.comparisons.get(
      pairKey({ row: row.config.configKey, reference: reference.configKey }),
    );
  });
  const made = comparisons.filter((c): c is PairedDifference => typeof c === 'object');
  const adjusted = holm(made.map((c) => c.pValue));
  const withHolm = new Map(made.map((c, i) => [c, { ...c, pValueHolm: adjusted[i] as number }]));

  const values = layout.rows.map((row) => choice(row.config.configKey));
  const finite = values.filter((value) => !Number.isNaN(value));
  const best = finite.reduce((a, b) => (better(b, a) ? b : a), finite[0] ?? Number.NaN);

  const rows: TableRow[] = layout.rows.map((row, i) => {
    const comparison = comparisons[i];
    return {
      kind: TableRowKind.TABLE_ROW_KIND_CONFIG,
      label: row.label,
      configKey: row.config.configKey,
      trivial: '',
      best: !Number.isNaN(best) && values[i] === best,
      referenceConfigKey: referenceOf.get(row.config.configKey)?.configKey ?? '',
      versusReference: typeof comparison === 'object' ? (withHolm.get(comparison) ?? null) : null,
      noComparison: typeof comparison === 'string' ? comparison : '',
    };
  });
  const references = [...new Map([...referenceOf.values()].map((c) => [c.configKey, c])).values()];
  for (const { config, label } of distinctLabels(
    references.map((config) => ({ config, label: scratchLabel(config) })),
  )) {
    rows.push(referenceRow(TableRowKind.TABLE_ROW_KIND_SCRATCH, label, config.configKey, ''));
  }

  const configRows = layout.rows.map((row) => summaryOf(row.config.configKey));
  const tested = configRows.find((c) => c.testSet !== '');
  const testSet = tested?.testSet ?? '';
  for (const trivial of testSet ? inputs.trivialOf(testSet) : []) {
    rows.push(referenceRow(TableRowKind.TABLE_ROW_KIND_TRIVIAL, trivial.label, '', trivial.name));
  }
  const seeds = configRows.map((c) => c.seeds.length);
  return {
    grid: layout.grid,
    title: layout.title,
    fixed: layout.fixed,
    rowHeader: layout.rowHeader,
    metrics: layout.metrics,
    rows,
    comparisonMetric,
    choiceMetric: validationMetricName(objective.metric),
    choiceMinimizes: objective.minimizes,
    testSet,
    testImages: tested?.testImages ?? 0,
    minSeeds: Math.min(...seeds),
    maxSeeds: Math.max(...seeds),
    detectableDifference: median(made.map((c) => c.detectableDifference)),
    comparisons: made.length,
  };
}

function referenceRow(
  kind: TableRowKind,
  label: string,
  configKey: string,
  trivial: string,
): TableRow {
  return {
    kind,
    label,
    configKey,
    trivial,
    best: false,
    referenceConfigKey: '',
    versusReference: null,
    noComparison: '',
  };
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
