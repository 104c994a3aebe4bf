/**
 * The leaderboard from a terminal, over gRPC: `leaderboard` ranks results, `watch` follows a
 * sweep live, `report` prints the paper's tables with intervals over seeds.
 */
import { validationMetricName } from '@masksweep/api';
import { score } from '@masksweep/leaderboard';
import {
  createLeaderboardClient,
  type LeaderboardClient,
  type TrialResult,
} from '@masksweep/proto';
import { Command, Option } from 'commander';
import { collectFilter, parseFormat, parseInteger, UsageError } from '../options.js';
import { paperReport } from '../paper-report.js';
import { table } from '../table.js';

const serverOption = () =>
  new Option('--server <host:port>', "the leaderboard's gRPC address")
    .env('MASKSWEEP_LEADERBOARD')
    .default('127.0.0.1:50051');
const namespaceOption = () =>
  new Option('--namespace <name>', 'the namespace of the sweeps').default('default');

function withClient<T>(server: string, use: (client: LeaderboardClient) => Promise<T>): Promise<T> {
  const client = createLeaderboardClient(server);
  return use(client).finally(() => client.close());
}

/** Validation F1 (what ranks), then the test metrics (reported). */
const TEST_COLUMNS = ['f1', 'recall', 'precision', 'accuracy'] as const;

function resultRow(result: TrialResult): string[] {
  const config = result.config;
  return [
    result.trial,
    config?.method ?? '',
    config?.maskType ? `${config.maskType} ${config.maskSize || config.maskRatio}` : '-',
    config?.augmentation ?? '',
    String(config?.seed ?? ''),
    score(result.valMetrics.f1),
    ...TEST_COLUMNS.map((name) => score(result.metrics[name])),
  ];
}

const RESULT_HEADER = [
  'TRIAL',
  'METHOD',
  'MASK',
  'AUGMENTATION',
  'SEED',
  'VAL F1',
  ...TEST_COLUMNS.map((name) => `TEST ${name.toUpperCase()}`),
];

const DEFAULT_SORT = validationMetricName('f1');

export function leaderboardCommand(): Command {
  return new Command('leaderboard')
    .description(
      'rank the stored results by validation F1 (one row per trial, best first); test metrics are shown, not ranked by',
    )
    .option('--sweep <name>', 'only this sweep')
    .option(
      '--sort <metric>',
      'a validation metric (val_f1, val_recall, ...), a test metric (f1, recall, precision, accuracy, macro_f1, ...), trial, finished_at, or config.<path> (config.finetune.lr)',
      DEFAULT_SORT,
    )
    .option(
      '--filter <path=value>',
      'only results whose config has this value at the path, or a number in this range (finetune.lr=>=0.0001,<0.001); repeatable',
      collectFilter('filter'),
    )
    .option(
      '--metric-filter <metric=range>',
      'only results with this metric in the range (macro_f1=>=0.8, val_f1=>0.5,<=0.9) or equal to the number; repeatable',
      collectFilter('metric-filter'),
    )
    .option('--ascending', 'lowest first')
    .option('--limit <n>', 'rows to show', parseInteger('--limit', 1), 50)
    .addOption(serverOption())
    .addOption(namespaceOption())
    .action(
      async (options: {
        sweep?: string;
        sort: string;
        filter?: Record<string, string>;
        metricFilter?: Record<string, string>;
        ascending?: boolean;
        limit: number;
        server: string;
        namespace: string;
      }) => {
        const page = await withClient(options.server, (client) =>
          client.listResults({
            namespace: options.namespace,
            sweep: options.sweep ?? '',
            sortBy: options.sort,
            configFilter: options.filter ?? {},
            metricFilter: options.metricFilter ?? {},
            ascending: Boolean(options.ascending),
            pageSize: Math.min(options.limit, 1000),
          }),
        );
        console.log(table(RESULT_HEADER, page.results.map(resultRow)));
        console.log(`\n${page.results.length} of ${page.totalCount} results`);
      },
    );
}

export function watchCommand(): Command {
  return new Command('watch')
    .description('follow a sweep: each result as it is stored, and the running leaders')
    .argument('<sweep>', 'the sweep')
    .addOption(serverOption())
    .addOption(namespaceOption())
    .action(async (sweep: string, options: { server: string; namespace: string }) => {
      const client = createLeaderboardClient(options.server);
      const best = new Map<string, TrialResult>();
      const stream = client.watchResults({ namespace: options.namespace, sweep, sinceSequence: 0 });
      console.log(`watching ${options.namespace}/${sweep} on ${options.server} (Ctrl-C to stop)`);
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (result: TrialResult) => {
          best.set(result.trial, result);
          // Leaders by validation F1, as the leaderboard ranks.
          const leaders = [...best.values()]
            .sort((a, b) => (b.valMetrics.f1 ?? -1) - (a.valMetrics.f1 ?? -1))
            .slice(0, 5);
          console.log(
            `\n${new Date().toISOString()} ${result.trial} attempt ${result.attempt}: val F1 ${score(result.valMetrics.f1)}, test F1 ${score(result.metrics.f1)}`,
          );
          console.log(table(RESULT_HEADER, leaders.map(resultRow)));
        });
        stream.on('error', (error: Error & { code?: number }) =>
          error.code === 1 ? resolve() : reject(error),
        );
        stream.on('end', resolve);
        process.once('SIGINT', () => stream.cancel());
      }).finally(() => client.close());
    });
}

export function reportCommand(): Command {
  return new Command('report')
    .description(
      'the tables of each grid (scratch and trivial reference rows, paired differences) and the configs ranked by validation, with 95 % intervals over seeds and test images',
    )
    .argument('<sweep>', 'the sweep')
    .option('--format <md|csv>', 'output format', parseFormat(['md', 'csv'] as const), 'md')
    .addOption(serverOption())
    .addOption(namespaceOption())
    .action(
      async (
        sweep: string,
        options: { format: 'md' | 'csv'; server: string; namespace: string },
      ) => {
        const summary = await withClient(options.server, (client) =>
          client.getSweepSummary({ namespace: options.namespace, sweep }),
        );
        if (summary.configs.length === 0) throw new UsageError(`sweep ${sweep} has no results yet`);
        console.log(paperReport(summary, options.format));
      },
    );
}
