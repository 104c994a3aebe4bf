/**
 * The leaderboard store and web view at study scale, on a real SQLite file: listResults
 * (sorts, filters, deep pages) and getSweepSummary latencies with 100,000 stored results,
 * metric events stored per second, and the time to the first render of a 10,000-trial
 * sweep page (the HTML over HTTP, and Chromium's load event when /usr/bin/chromium exists).
 * Targets: queries p99 < 20 ms at 100,000 results; >= 20,000 metric events/s in batches
 * of 1000 (the consumer's size; 100 and 500 are reported too, each run on a larger table).
 * First of all, the summary of a paper-sized sweep with stored predictions (33 configs x 3
 * seeds x 40 test images: intervals, trivial classifiers, tables and their comparisons),
 * cold and after a new result; target well under a second. `--cases paper` runs that alone.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebServer, type ListResultsInput, openStore } from '@masksweep/leaderboard';
import { type MetricEvent, MetricKind, Stage } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@masksweep/testing';
import {
  PAPER_STUDY_SPEC,
  paperStudyConfigs,
  studyResults,
  syntheticResult,
} from '../services/leaderboard/src/store/fixtures.test-support.js';
import { type Benchmark, positiveInteger } from './benchmark.js';
import { median, peakRssMiB, percentile } from './measure.js';

function timed<T>(work: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = work();
  return { ms: performance.now() - start, value };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Wall and CPU (user + system) milliseconds of `work`. */
function timedCpu<T>(work: () => T): { ms: number; cpuMs: number; value: T } {
  const cpu = process.cpuUsage();
  const { ms, value } = timed(work);
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, value };
}

/**
 * GetSweepSummary of the paper's sweep (33 configs x `seeds` seeds x `images` test images,
 * predictions stored): each of `runs` fresh sweeps summarised cold, then again after one
 * new result of a config that is a row and the reference of others (scratch).
 */
function paperSummary(dir: string, runs: number, seeds: number, images: number) {
  const store = openStore({ path: join(dir, 'paper.db') });
  try {
    const configs = paperStudyConfigs();
    const cold: Array<{ ms: number; cpuMs: number }> = [];
    const afterNewResult: Array<{ ms: number; cpuMs: number }> = [];
    let tables = 0;
    let comparisons = 0;
    for (let run = 0; run < runs; run++) {
      const sweep = `paper-${run}`;
      store.registerSweep({
        namespace: 'default',
        sweep,
        specJson: PAPER_STUDY_SPEC,
        trialCount: 99,
      });
      const rng = new Random(run);
      for (const result of studyResults(configs, { sweep, seeds, images, rng })) {
        store.reportResult(result);
      }
      const first = timedCpu(() => store.getSweepSummary({ namespace: 'default', sweep }));
      cold.push(first);
      tables = first.value.tables.length;
      comparisons = first.value.tables.reduce((sum, table) => sum + table.comparisons, 0);
      const scratch = configs.find(
        (c) => c.method === 'scratch' && c.augmentation === 'randomResizedCrop',
      ) as (typeof configs)[number];
      const [extra] = studyResults([scratch], { sweep, seeds: seeds + 1, images, rng }).slice(
        seeds,
      );
      store.reportResult(extra as NonNullable<typeof extra>);
      afterNewResult.push(timedCpu(() => store.getSweepSummary({ namespace: 'default', sweep })));
    }
    const figures = (samples: Array<{ ms: number; cpuMs: number }>) => ({
      wallMsMedian: round(median(samples.map((s) => s.ms))),
      cpuMsMedian: round(median(samples.map((s) => s.cpuMs))),
      wallMsMax: round(Math.max(...samples.map((s) => s.ms))),
    });
    return {
      configs: configs.length,
      seeds,
      images,
      tables,
      comparisons,
      runs,
      cold: figures(cold),
      afterNewResult: figures(afterNewResult),
      targetColdUnder1s: median(cold.map((s) => s.ms)) < 1000,
    };
  } finally {
    store.close();
  }
}

const benchmark: Benchmark = {
  options: {
    results: 'stored results for the query figures (default 100000)',
    seeds: 'seeds per config (default 5)',
    repeats: 'calls per query variant (default 200)',
    events: 'metric events per batch size for the insert rate (default 200000)',
    'web-trials': 'results of the sweep whose page is rendered (default 10000)',
    dir: 'folder for the SQLite file (default the system temp folder)',
    cases:
      "'all' (default), 'paper': the paper-sized summary alone, or 'list': the store filled and listResults alone",
    'paper-runs': 'fresh paper-sized sweeps summarised (default 5)',
  },
  async run(options) {
    const resultCount = positiveInteger('results', options.results, 100_000);
    const seeds = positiveInteger('seeds', options.seeds, 5);
    const repeats = positiveInteger('repeats', options.repeats, 200);
    const eventCount = positiveInteger('events', options.events, 200_000);
    const webTrials = positiveInteger('web-trials', options['web-trials'], 10_000);
    const dir = mkdtempSync(
      join(typeof options.dir === 'string' ? options.dir : tmpdir(), 'leaderboard-bench-'),
    );
    const paperRuns = positiveInteger('paper-runs', options['paper-runs'], 5);
    const paper = options.cases === 'list' ? undefined : paperSummary(dir, paperRuns, 3, 40);
    if (paper) console.error(`paper-sized sweep summary: ${JSON.stringify(paper)}`);
    if (options.cases === 'paper') {
      rmSync(dir, { recursive: true, force: true });
      return { paperSummary: paper, peakRssMiB: peakRssMiB() };
    }
    const store = openStore({ path: join(dir, 'leaderboard.db') });
    try {
      const namespace = 'default';
      const sweep = 'study';
      const configCount = Math.ceil(resultCount / seeds);
      store.registerSweep({ namespace, sweep, specJson: '{}', trialCount: resultCount });
      const rng = new Random(1);
      const fill = timed(() => {
        for (let i = 0; i < resultCount; i++) {
          store.reportResult(syntheticResult(i, { sweep, configCount, seeds, rng }));
        }
      });
      console.error(`stored ${resultCount} results in ${(fill.ms / 1000).toFixed(1)} s`);

      // listResults: each variant's first call (uncached total count) and then repeats.
      const base = { namespace, sweep };
      const variants: Array<[string, ListResultsInput]> = [
        ['f1 desc', { ...base }],
        ['recall asc', { ...base, sortBy: 'recall', ascending: true }],
        ['trial asc', { ...base, sortBy: 'trial', ascending: true }],
        ['finished_at desc, 200 per page', { ...base, sortBy: 'finished_at', pageSize: 200 }],
        ['method=spark, f1', { ...base, configFilter: { method: 'spark' } }],
        [
          'mask.type=mesh, mask.ratio=0.7, precision',
          {
            ...base,
            sortBy: 'precision',
            configFilter: { 'mask.type': 'mesh', 'mask.ratio': '0.7' },
          },
        ],
        [
          'augmentation.type=mixup, accuracy asc',
          {
            ...base,
            sortBy: 'accuracy',
            ascending: true,
            configFilter: { 'augmentation.type': 'mixup' },
          },
        ],
        ['whole namespace, f1', { namespace }],
        // result_values (schema version 4): any config path and scored metric.
        [
          'filter and sort by finetune.lr (range, desc)',
          {
            ...base,
            sortBy: 'config.finetune.lr',
            configFilter: { 'finetune.lr': '>=0.0005,<0.0015' },
          },
        ],
        [
          'filter and sort by macro_f1 (>=0.6, desc)',
          { ...base, sortBy: 'macro_f1', metricFilter: { macro_f1: '>=0.6' } },
        ],
        ['finetune.lr=0.0001, val_f1', { ...base, configFilter: { 'finetune.lr': '0.0001' } }],
        [
          'finetune.lr range, sort by macro_f1 asc',
          {
            ...base,
            sortBy: 'macro_f1',
            ascending: true,
            configFilter: { 'finetune.lr': '>0.001' },
          },
        ],
        [
          'val_f1 > 0.85, sort by config.mask.ratio',
          { ...base, sortBy: 'config.mask.ratio', metricFilter: { val_f1: '>0.85' } },
        ],
      ];
      const samples: number[] = [];
      const listVariants = variants.map(([name, request]) => {
        const first = timed(() => store.listResults(request));
        const times: number[] = [];
        for (let r = 0; r < repeats; r++) times.push(timed(() => store.listResults(request)).ms);
        samples.push(first.ms, ...times);
        return {
          name,
          totalCount: first.value.totalCount,
          firstMs: round(first.ms),
          p50Ms: percentile(times, 0.5),
          p99Ms: percentile(times, 0.99),
        };
      });
      // Deep pages: following tokens from page 1 to page 50, by a stored column and along
      // result_values (a config-path sort).
      for (const sortBy of ['recall', 'config.finetune.lr']) {
        const deep: number[] = [];
        for (let walk = 0; walk < Math.max(1, Math.floor(repeats / 50)); walk++) {
          let pageToken = '';
          for (let page = 0; page < 50; page++) {
            const call = timed(() => store.listResults({ ...base, sortBy, pageToken }));
            deep.push(call.ms);
            pageToken = call.value.nextPageToken;
          }
        }
        samples.push(...deep);
        listVariants.push({
          name: `${sortBy} desc, pages 1-50 by token`,
          totalCount: resultCount,
          firstMs: round(deep[0] as number),
          p50Ms: percentile(deep, 0.5),
          p99Ms: percentile(deep, 0.99),
        });
      }
      for (const v of listVariants)
        console.error(
          `listResults ${v.name}: first ${v.firstMs} ms, p50 ${v.p50Ms} ms, p99 ${v.p99Ms} ms`,
        );
      if (options.cases === 'list') {
        return {
          results: resultCount,
          fill: { seconds: round(fill.ms / 1000) },
          queries: { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) },
          listResults: listVariants,
        };
      }

      // getSweepSummary: the first call summarises every config; later ones only the
      // configs with new results.
      const cold = timed(() => store.getSweepSummary(base));
      const warm = Array.from(
        { length: repeats },
        () => timed(() => store.getSweepSummary(base)).ms,
      );
      const afterNewResult: number[] = [];
      for (let i = 0; i < Math.min(repeats, 100); i++) {
        // A later attempt of a stored trial: a sweep has one trial per (config, seed).
        store.reportResult({
          ...syntheticResult(i, { sweep, configCount, seeds, rng }),
          attempt: 2,
        });
        afterNewResult.push(timed(() => store.getSweepSummary(base)).ms);
      }
      samples.push(...warm, ...afterNewResult);
      const summary = {
        configs: cold.value.configs.length,
        coldMs: round(cold.ms),
        p50Ms: percentile(warm, 0.5),
        p99Ms: percentile(warm, 0.99),
        afterNewResultP50Ms: percentile(afterNewResult, 0.5),
        afterNewResultP99Ms: percentile(afterNewResult, 0.99),
      };
      console.error(
        `getSweepSummary: cold ${summary.coldMs} ms, p99 ${summary.p99Ms} ms, after a new result p99 ${summary.afterNewResultP99Ms} ms`,
      );

      // insertMetricEvents: batches as a bus consumer hands them over (400 trials reporting
      // at once, 3 values per event), at a few batch sizes; each size stores its own steps.
      const eventBatches = (batchSize: number, firstStep: number) => {
        const batches: MetricEvent[][] = [];
        for (let first = 0; first < eventCount; first += batchSize) {
          batches.push(
            Array.from({ length: Math.min(batchSize, eventCount - first) }, (_, i) => {
              const n = first + i;
              return {
                namespace,
                sweep,
                trial: `${sweep}-t${n % 400}`,
                attempt: 1,
                stage: Stage.STAGE_FINETUNE,
                kind:
                  n % 10 === 0 ? MetricKind.METRIC_KIND_VALIDATION : MetricKind.METRIC_KIND_TRAIN,
                step: firstStep + Math.floor(n / 400),
                epoch: Math.floor(n / 40_000),
                values: { loss: 1 / (1 + n), lr: 0.001, images_per_second: 850 },
                wallTimeMs: 1_750_000_000_000 + n,
              };
            }),
          );
        }
        return batches;
      };
      const insertRates = [100, 500, 1000].map((batchSize, index) => {
        const batches = eventBatches(batchSize, index * 1_000_000);
        let stored = 0;
        const insert = timed(() => {
          for (const batch of batches) stored += store.insertMetricEvents(batch);
        });
        const again = timed(() => {
          for (const batch of batches.slice(0, 20)) store.insertMetricEvents(batch);
        });
        const rate = {
          batchSize,
          events: eventCount,
          pointsStored: stored,
          eventsPerSecond: Math.round(eventCount / (insert.ms / 1000)),
          pointsPerSecond: Math.round(stored / (insert.ms / 1000)),
          duplicateEventsPerSecond: Math.round(
            batches.slice(0, 20).reduce((sum, b) => sum + b.length, 0) / (again.ms / 1000),
          ),
        };
        console.error(
          `insertMetricEvents, batches of ${batchSize}: ${rate.eventsPerSecond} events/s`,
        );
        return rate;
      });
      const metricEvents = {
        // The leaderboard's JetStream consumer hands over batches of about 1000 events.
        eventsPerSecond: (insertRates[2] as (typeof insertRates)[number]).eventsPerSecond,
        byBatchSize: insertRates,
      };

      // The page of a 10,000-trial sweep.
      const webSweep = 'page';
      store.registerSweep({ namespace, sweep: webSweep, specJson: '{}', trialCount: webTrials });
      for (let i = 0; i < webTrials; i++) {
        store.reportResult(
          syntheticResult(i, {
            sweep: webSweep,
            configCount: Math.ceil(webTrials / seeds),
            seeds,
            rng,
          }),
        );
      }
      const server = await createWebServer({ store, port: 0 });
      const web: Record<string, unknown> = { trials: webTrials };
      try {
        const url = `${server.url}/sweeps/${namespace}/${webSweep}`;
        const fetchPage = async () => {
          const start = performance.now();
          const response = await fetch(url);
          const text = await response.text();
          if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
          return { ms: performance.now() - start, bytes: Buffer.byteLength(text) };
        };
        const first = await fetchPage();
        const times: number[] = [];
        for (let r = 0; r < 30; r++) times.push((await fetchPage()).ms);
        Object.assign(web, {
          htmlBytes: first.bytes,
          firstHtmlMs: round(first.ms),
          htmlP50Ms: percentile(times, 0.5),
          htmlP99Ms: percentile(times, 0.99),
        });
        if (existsSync(CHROMIUM_PATH)) {
          const { chromium } = await import('playwright-core');
          const browser = await chromium.launch({
            executablePath: CHROMIUM_PATH,
            args: [...CHROMIUM_ARGS],
          });
          try {
            const loads: number[] = [];
            for (let r = 0; r < 5; r++) {
              const page = await browser.newPage();
              await page.goto(url, { waitUntil: 'load' });
              loads.push(
                // The browser's own clock: navigation start to the end of the load event.
                Number(
                  await page.evaluate('performance.getEntriesByType("navigation")[0].loadEventEnd'),
                ),
              );
              await page.close();
            }
            web.chromiumLoadEventMs = round(median(loads));
          } finally {
            await browser.close();
          }
        }
      } finally {
        await server.close();
      }
      console.error(`sweep page of ${webTrials} trials: ${JSON.stringify(web)}`);

      return {
        results: resultCount,
        seeds,
        configs: configCount,
        fill: {
          seconds: round(fill.ms / 1000),
          resultsPerSecond: Math.round(resultCount / (fill.ms / 1000)),
        },
        queries: {
          p50Ms: percentile(samples, 0.5),
          p99Ms: percentile(samples, 0.99),
          maxMs: percentile(samples, 1),
          calls: samples.length,
        },
        listResults: listVariants,
        sweepSummary: summary,
        paperSummary: paper,
        metricEvents,
        web,
        targets: {
          queriesP99Under20Ms: percentile(samples, 0.99) < 20,
          eventsPerSecondAtLeast20000InBatchesOf1000: metricEvents.eventsPerSecond >= 20_000,
        },
        peakRssMiB: peakRssMiB(),
      };
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default benchmark;
