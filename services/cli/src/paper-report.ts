/**
 * `masksweep report`: the tables of each grid of a sweep as the leaderboard builds them
 * (one row per config, the scratch and trivial reference rows, paired differences with
 * Holm-adjusted p-values, the test-set line), then every config ranked by its mean
 * validation objective with the trivial classifiers below. Markdown shows percentages;
 * CSV keeps the stored fractions and each seed's value.
 */
import {
  configLabel,
  interval,
  points,
  pValue,
  type ResolvedRow,
  rankingOrder,
  resolveRows,
  score,
  tablesByGrid,
  testSetLine,
} from '@masksweep/leaderboard';
import {
  type ConfigSummary,
  type MetricSummary,
  type ResultTable,
  type SweepSummary,
  TableRowKind,
} from '@masksweep/proto';

const TEST_METRICS = ['accuracy', 'precision', 'recall', 'f1'];

const KIND_NAMES: Record<number, string> = {
  [TableRowKind.TABLE_ROW_KIND_CONFIG]: 'config',
  [TableRowKind.TABLE_ROW_KIND_SCRATCH]: 'scratch',
  [TableRowKind.TABLE_ROW_KIND_TRIVIAL]: 'trivial',
};

export function paperReport(summary: SweepSummary, format: 'md' | 'csv'): string {
  return format === 'md' ? markdownReport(summary) : csvReport(summary);
}

const upper = (metric: string) => metric.toUpperCase().replace('_', ' ');

function markdownReport(summary: SweepSummary): string {
  const objective = upper(summary.objective);
  const confidence = `${Math.round(summary.confidence * 100)} %`;
  const lines = [
    `## ${summary.sweep}: tables by grid`,
    '',
    `Test columns are the test split, reported only: mean over seeds in percent [${confidence} interval, two-stage bootstrap over seeds and test images]. val ${objective} is the validation split, which every choice reads: the **bold** row of each table has its best mean val ${objective} (chosen on validation). Reference rows are in italics: scratch (the same network without pre-training, with the row's augmentation) and the trivial classifiers, scored on the test labels. Δ: the paired difference with the scratch row on the same seeds and test images, in points [${confidence} interval], p Holm-adjusted over the table's comparisons.`,
    '',
  ];
  const grids = tablesByGrid(summary.tables);
  if (grids.length === 0) {
    lines.push('No config of this sweep names a grid: no tables (the ranking has every config).');
  }
  for (const { grid, tables } of grids) {
    lines.push(`### Grid ${grid}`, '');
    for (const table of tables) lines.push(...markdownTable(summary, table), '');
  }
  lines.push(...markdownRanking(summary));
  return lines.join('\n');
}

function cell(summary: MetricSummary | undefined): string {
  return `${score(summary?.mean)} ${interval(summary)}`.trimEnd();
}

function markdownTable(summary: SweepSummary, table: ResultTable): string[] {
  const choice = table.choiceMetric.replace(/^val_/, '');
  const comparing = table.rows.some((row) => row.versusReference || row.noComparison);
  const header = [
    table.rowHeader,
    ...table.metrics.map((m) => `test ${upper(m)}`),
    `val ${upper(choice)}`,
    ...(comparing ? [`Δ test ${upper(table.comparisonMetric)} vs scratch`, 'p (Holm)'] : []),
    'n',
  ];
  const rows = resolveRows(summary, table).map(({ row, metrics, valMetrics, seeds }) => {
    const reference = row.kind !== TableRowKind.TABLE_ROW_KIND_CONFIG;
    const label = reference ? `*${row.label}*` : row.best ? `**${row.label}**` : row.label;
    const val = score(valMetrics[choice]?.mean);
    const versus = row.versusReference;
    const comparison = comparing
      ? versus
        ? [
            `${points(versus.difference)} [${points(versus.ciLow)}, ${points(versus.ciHigh)}]`,
            pValue(versus.pValueHolm),
          ]
        : [row.noComparison ? '—' : '', '']
      : [];
    return [
      label,
      ...table.metrics.map((m) => cell(metrics[m])),
      row.best ? `**${val}**` : reference && val === '—' ? '' : val,
      ...comparison,
      row.kind === TableRowKind.TABLE_ROW_KIND_TRIVIAL ? '' : String(seeds.length),
    ];
  });
  return [
    `#### ${table.title}${table.fixed ? ` (${table.fixed})` : ''}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
    '',
    testSetLine(table, summary.confidence),
  ];
}

function ranked(summary: SweepSummary): ConfigSummary[] {
  const order = summary.objectiveMinimizes ? 'asc' : 'desc';
  return [...summary.configs].sort(rankingOrder(`val_${summary.objective}`, order));
}

function markdownRanking(summary: SweepSummary): string[] {
  const objective = summary.objective;
  const header = [
    '#',
    'Config',
    `val ${upper(objective)}`,
    ...TEST_METRICS.map((m) => `test ${upper(m)}`),
    'n',
  ];
  const configs = ranked(summary).map((config, i) => [
    String(i + 1),
    config.config ? configLabel(config.config) : '',
    score(config.valMetrics[objective]?.mean),
    ...TEST_METRICS.map((m) => cell(config.metrics[m])),
    String(config.seeds.length),
  ]);
  const trivial = summary.trivial.map((t) => [
    '',
    `*${t.label} (trivial)*`,
    '—',
    ...TEST_METRICS.map((m) => cell(t.metrics[m])),
    '',
  ]);
  return [
    `### Every config, by mean val ${upper(objective)}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...[...configs, ...trivial].map((cells) => `| ${cells.join(' | ')} |`),
    '',
  ];
}

const CSV_HEADER = [
  'grid',
  'table',
  'row_kind',
  'label',
  'config_key',
  'chosen_on_validation',
  'seeds',
  ...TEST_METRICS.flatMap((m) => [
    `test_${m}`,
    `test_${m}_ci_low`,
    `test_${m}_ci_high`,
    `test_${m}_per_seed`,
  ]),
  'val_objective',
  'val_objective_mean',
  'val_objective_per_seed',
  'difference_metric',
  'difference_vs_scratch',
  'difference_ci_low',
  'difference_ci_high',
  'p_value',
  'p_value_holm',
  'table_detectable_difference',
  'test_images',
];

function number(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : String(value);
}

function csvRow(
  grid: string,
  title: string,
  resolved: ResolvedRow,
  objective: string,
  table: ResultTable | undefined,
  testImages: number,
): string[] {
  const { row, metrics, valMetrics, seeds } = resolved;
  const versus = row.versusReference;
  return [
    grid,
    title,
    KIND_NAMES[row.kind] ?? '',
    row.label,
    row.configKey,
    String(row.best),
    seeds.join(';'),
    ...TEST_METRICS.flatMap((m) => {
      const s = metrics[m];
      return [
        number(s?.mean),
        number(s?.ciLow),
        number(s?.ciHigh),
        (s?.perSeed ?? []).map(number).join(';'),
      ];
    }),
    `val_${objective}`,
    number(valMetrics[objective]?.mean),
    (valMetrics[objective]?.perSeed ?? []).map(number).join(';'),
    versus?.metric ?? '',
    number(versus?.difference),
    number(versus?.ciLow),
    number(versus?.ciHigh),
    number(versus?.pValue),
    number(versus?.pValueHolm),
    number(table?.detectableDifference),
    String(testImages),
  ];
}

/** One line per table row (the tables of every grid), then per config of the ranking. */
function csvReport(summary: SweepSummary): string {
  const quote = (text: string) => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const lines = [CSV_HEADER];
  for (const table of summary.tables) {
    for (const resolved of resolveRows(summary, table)) {
      lines.push(
        csvRow(table.grid, table.title, resolved, summary.objective, table, table.testImages),
      );
    }
  }
  for (const config of ranked(summary)) {
    const row = {
      kind: TableRowKind.TABLE_ROW_KIND_CONFIG,
      label: config.config ? configLabel(config.config) : '',
      configKey: config.config?.configKey ?? '',
      trivial: '',
      best: false,
      referenceConfigKey: '',
      versusReference: null,
      noComparison: '',
    };
    const resolved = { row, ...config, config: config.config };
    lines.push(csvRow('', 'ranking', resolved, summary.objective, undefined, config.testImages));
  }
  for (const trivial of summary.trivial) {
    const row = {
      kind: TableRowKind.TABLE_ROW_KIND_TRIVIAL,
      label: trivial.label,
      configKey: '',
      trivial: trivial.name,
      best: false,
      referenceConfigKey: '',
      versusReference: null,
      noComparison: '',
    };
    const resolved = { row, metrics: trivial.metrics, valMetrics: {}, seeds: [], config: null };
    lines.push(csvRow('', 'ranking', resolved, summary.objective, undefined, trivial.testImages));
  }
  return lines.map((line) => line.map(quote).join(',')).join('\n');
}
