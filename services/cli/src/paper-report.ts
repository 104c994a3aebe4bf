/**
 * The paper's tables (per method by augmentation: Tables 2-4; per mask type by ratio or
 * size: Tables 5-8) as text, with each cell's mean over seeds and its 95 % interval.
 */
import {
  type ConfigSummary,
  interval,
  maskTables,
  methodAugmentationTables,
  type PaperTable,
  score,
} from '@masksweep/leaderboard';

export function paperReport(configs: readonly ConfigSummary[], format: 'md' | 'csv'): string {
  const tables = [...methodAugmentationTables(configs), ...maskTables(configs)];
  const render = format === 'md' ? markdownTable : csvTable;
  return tables.map((t) => render(t, configs)).join('\n');
}

/** Each cell: the mean over seeds and its 95 % t interval. */
function cells(paper: PaperTable, configs: readonly ConfigSummary[]) {
  const byKey = new Map(configs.map((c) => [c.config.configKey, c]));
  return paper.rows.map((row) => {
    const config = byKey.get(row.configKey);
    return {
      label: row.label,
      best: row.best,
      seeds: row.seeds,
      values: paper.metrics.map((metric) => config?.metrics[metric]),
    };
  });
}

function markdownTable(paper: PaperTable, configs: readonly ConfigSummary[]): string {
  const header = [paper.rowHeader, ...paper.metrics.map((m) => m.toUpperCase()), 'n'];
  const lines = cells(paper, configs).map((row) => {
    const values = row.values.map((summary) => {
      const mean = score(summary?.mean);
      return `${row.best ? `**${mean}**` : mean} ${interval(summary)}`.trimEnd();
    });
    return [row.label, ...values, String(row.seeds)];
  });
  return [
    `### ${paper.title}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...lines.map((cellsOfRow) => `| ${cellsOfRow.join(' | ')} |`),
    '',
  ].join('\n');
}

function csvTable(paper: PaperTable, configs: readonly ConfigSummary[]): string {
  const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const header = [
    'table',
    paper.rowHeader,
    ...paper.metrics.flatMap((m) => [m, `${m}_ci_low`, `${m}_ci_high`]),
    'n',
  ];
  const lines = cells(paper, configs).map((row) => [
    paper.title,
    row.label,
    ...row.values.flatMap((s) =>
      [s?.mean, s?.ciLow, s?.ciHigh].map((v) =>
        v === undefined || Number.isNaN(v) ? '' : String(v),
      ),
    ),
    String(row.seeds),
  ]);
  return [header, ...lines].map((line) => line.map(quote).join(',')).join('\n');
}
