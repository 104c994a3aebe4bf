/**
 * The tables of each grid and the mask heat maps, as HTML for the sweep page. Every test
 * value is a mean over seeds with its interval; every column says its split.
 */
import type { ResultTable } from '@masksweep/proto';
import { TableRowKind } from '@masksweep/proto';
import {
  type ResolvedRow,
  resolveRows,
  tablesByGrid,
  testSetLine,
} from '../analysis/table-rows.js';
import type { SweepSummary } from '../store/types.js';
import { interval, points, pValue, score } from './format.js';
import { type HeatMap, heatStep, maskHeatMaps } from './heat-maps.js';
import { html, query, type SafeHtml } from './html.js';
import { sweepLink } from './layout.js';

export const METRIC_LABELS: Record<string, string> = {
  f1: 'F1',
  recall: 'Recall',
  precision: 'Precision',
  accuracy: 'Accuracy',
  macro_f1: 'Macro F1',
  macro_precision: 'Macro precision',
  macro_recall: 'Macro recall',
};

export const metricLabel = (metric: string): string => METRIC_LABELS[metric] ?? metric;

/** Above this many rows in all, the page shows one grid's tables at a time. */
export const MAX_INLINE_TABLE_ROWS = 300;

const KIND_CLASSES: Record<number, string> = {
  [TableRowKind.TABLE_ROW_KIND_SCRATCH]: 'reference scratch',
  [TableRowKind.TABLE_ROW_KIND_TRIVIAL]: 'reference trivial',
};

function tableRow(resolved: ResolvedRow, table: ResultTable, comparing: boolean): SafeHtml {
  const { row } = resolved;
  const choice = table.choiceMetric.replace(/^val_/, '');
  const val = resolved.valMetrics[choice];
  const versus = row.versusReference;
  const chosen = row.best
    ? html` <span class="chosen" title="the best mean validation ${metricLabel(choice)} of the table">✓ chosen on val</span>`
    : '';
  const comparison = comparing
    ? versus
      ? html`<td class="num">${points(versus.difference)} <span class="ci">[${points(versus.ciLow)}, ${points(versus.ciHigh)}]</span></td><td class="num">${pValue(versus.pValueHolm)}</td>`
      : html`<td class="num" title="${row.noComparison}">${row.noComparison ? '—' : ''}</td><td></td>`
    : '';
  return html`<tr class="${KIND_CLASSES[row.kind] ?? 'config'}" data-config-key="${row.configKey}" data-trivial="${row.trivial}">
<td>${row.label}${chosen}</td>${table.metrics.map((metric) => {
    const summary = resolved.metrics[metric];
    return html`<td class="num">${score(summary?.mean)} <span class="ci">${interval(summary)}</span></td>`;
  })}<td class="num${row.best ? ' best' : ''}">${score(val?.mean)}</td>${comparison}<td class="num">${row.kind === TableRowKind.TABLE_ROW_KIND_TRIVIAL ? '' : resolved.seeds.length}</td></tr>`;
}

export function resultTable(summary: SweepSummary, table: ResultTable): SafeHtml {
  const comparing = table.rows.some((row) => row.versusReference || row.noComparison);
  const compared = metricLabel(table.comparisonMetric);
  const choice = metricLabel(table.choiceMetric.replace(/^val_/, ''));
  return html`<table class="result-table" data-grid="${table.grid}">
<caption>${table.title}${table.fixed ? html`<br><span class="muted">${table.fixed}</span>` : ''}</caption>
<thead><tr><th>${table.rowHeader}</th>${table.metrics.map((m) => html`<th class="num">test ${metricLabel(m)}</th>`)}<th class="num">val ${choice}</th>${comparing ? html`<th class="num">Δ test ${compared} vs scratch</th><th class="num">p (Holm)</th>` : ''}<th class="num">n</th></tr></thead>
<tbody>${resolveRows(summary, table).map((resolved) => tableRow(resolved, table, comparing))}</tbody>
<tfoot><tr><td colspan="${table.metrics.length + (comparing ? 5 : 3)}" class="muted test-set">${testSetLine(table, summary.confidence)}</td></tr></tfoot>
</table>`;
}

function heatMapTable(map: HeatMap): SafeHtml {
  return html`<table class="heatmap" data-grid="${map.grid}">
<caption>${map.title}: test F1 by mask</caption>
<thead><tr><th>Mask</th>${map.columnLabels.map((label) => html`<th class="num">${label}</th>`)}</tr></thead>
<tbody>${map.rowLabels.map(
    (label, r) =>
      html`<tr><th>${label}</th>${(map.cells[r] ?? []).map((cell) =>
        cell === undefined
          ? html`<td></td>`
          : html`<td class="num heat-${heatStep(cell.value, map)}" data-config-key="${cell.configKey}">${score(cell.value)}</td>`,
      )}</tr>`,
  )}</tbody>
</table>`;
}

/**
 * Every grid's heat maps, laid out once per summary (a summary is replaced, not changed, when
 * results arrive): they read every config, some 20 ms per page for 1,000 configs.
 */
const heatMapCache = new WeakMap<SweepSummary, HeatMap[]>();
function heatMapsOf(summary: SweepSummary, grids: ReadonlyArray<{ grid: string }>): HeatMap[] {
  let maps = heatMapCache.get(summary);
  if (!maps) {
    maps = maskHeatMaps(
      summary.configs,
      grids.map((g) => g.grid),
    );
    heatMapCache.set(summary, maps);
  }
  return maps;
}

/**
 * The tables and heat maps of every grid; for a sweep with many rows, those of the grid
 * picked (`?grid=`), with links to the others.
 */
export function gridSections(summary: SweepSummary, pickedGrid: string | undefined): SafeHtml {
  const grids = tablesByGrid(summary.tables);
  if (grids.length === 0) {
    return html`<p>No config of this sweep names a grid (results stored before schema version 3 do not), so there are no tables; every config is in the ranking.</p>`;
  }
  const totalRows = summary.tables.reduce((sum, table) => sum + table.rows.length, 0);
  const inline = totalRows <= MAX_INLINE_TABLE_ROWS;
  const known = grids.some(({ grid }) => grid === pickedGrid);
  const picked = inline ? undefined : known ? pickedGrid : grids[0]?.grid;
  const heatMaps = heatMapsOf(summary, grids);
  const link = (grid: string) =>
    `${sweepLink(summary.namespace, summary.sweep)}${query({ grid })}#tables`;
  return html`${
    inline
      ? ''
      : html`<p class="grids">${totalRows} table rows: one grid at a time. ${grids.map(
          ({ grid }) =>
            grid === picked
              ? html`<strong>${grid}</strong> `
              : html`<a href="${link(grid)}">${grid}</a> `,
        )}</p>`
  }${grids
    .filter(({ grid }) => inline || grid === picked)
    .map(
      ({ grid, tables }) => html`<section class="grid" data-grid="${grid}">
<h3>Grid ${grid}</h3>
<div class="tables">${tables.map((table) => resultTable(summary, table))}</div>
${heatMaps.filter((map) => map.grid === grid).map(heatMapTable)}
</section>`,
    )}`;
}
