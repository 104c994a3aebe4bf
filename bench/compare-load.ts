/**
 * CompareConfigs under load on the real leaderboard (gRPC port, HTTP, SQLite file, the
 * statistics pool): one maximal comparison alone (10,000 resamples on two configs of
 * `seeds` x `images` predictions), then `concurrent` distinct ones at once, half over gRPC
 * and half over the web view, while /healthz is probed every 10 ms; then the same number
 * again past the pool's limit, which must be refused at once. Target: /healthz p99 < 50 ms
 * during the load (before the pool, one such comparison held it 9.9 s).
 *
 * Then cold sweep pages, whose summary the pool computes: the paper's sweep (33 configs x 3
 * seeds x 40 test images, predictions stored: the bootstraps) and a large synthetic one
 * (`page-configs` x 3 seeds, no predictions: the size of the summary the event loop receives
 * and renders), each while /healthz is probed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startLeaderboard } from '@masksweep/leaderboard';
import { createLeaderboardClient } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  type CompareAnswer,
  compareOverGrpc,
  compareOverHttp,
  maximalCompare,
  probeHealthWhile,
  storeComparedPair,
} from '../services/leaderboard/src/analysis/load.test-support.js';
import {
  PAPER_STUDY_SPEC,
  paperStudyConfigs,
  studyResults,
  syntheticResult,
} from '../services/leaderboard/src/store/fixtures.test-support.js';
import { type Benchmark, positiveInteger } from './benchmark.js';
import { peakRssMiB, percentile } from './measure.js';

const round = (ms: number) => Math.round(ms * 10) / 10;

const benchmark: Benchmark = {
  options: {
    seeds: 'seeds per config (default 5)',
    images: 'test images per seed (default 2000)',
    concurrent: 'comparisons at once, also the pool limit (default 10)',
    threads: 'statistics worker threads (default the cores less one, at least 1)',
    'page-configs': 'configs of the large synthetic sweep whose cold page is timed (default 2000)',
  },
  async run(options) {
    const seeds = positiveInteger('seeds', options.seeds, 5);
    const images = positiveInteger('images', options.images, 2000);
    const concurrent = positiveInteger('concurrent', options.concurrent, 10);
    const threads =
      options.threads === undefined ? undefined : positiveInteger('threads', options.threads, 1);
    const pageConfigs = positiveInteger('page-configs', options['page-configs'], 2000);
    const dir = mkdtempSync(join(tmpdir(), 'compare-load-'));
    const leaderboard = await startLeaderboard({
      database: join(dir, 'lb.db'),
      token: 'b7'.repeat(32),
      // Long enough for the slowest of the load on one thread: what is measured is the wait.
      statistics: { threads, maxPending: concurrent, taskTimeoutMs: 120_000 },
    });
    const client = createLeaderboardClient(`127.0.0.1:${leaderboard.grpcPort}`);
    try {
      const keys = storeComparedPair(leaderboard.store, { sweep: 'load', seeds, images });
      // Warm: the worker thread started, the HTTP client loaded.
      await (await fetch(`${leaderboard.webUrl}/healthz`)).text();
      await compareOverGrpc(client, { ...maximalCompare('load', keys, 1000), resamples: 2 });
      const alone = await compareOverGrpc(client, maximalCompare('load', keys, 1001));
      const cached = await compareOverHttp(leaderboard.webUrl, maximalCompare('load', keys, 1001));
      console.error(
        `one maximal comparison: ${round(alone.ms)} ms; again, cached: ${round(cached.ms)} ms`,
      );

      // The same probes with nothing running: what the machine itself adds.
      const idle = await probeHealthWhile(
        leaderboard.webUrl,
        new Promise((resolve) => setTimeout(resolve, 3000)),
      );
      console.error(
        `idle /healthz: p50 ${round(percentile(idle, 0.5))} ms, p99 ${round(percentile(idle, 0.99))} ms, max ${round(Math.max(...idle))} ms`,
      );
      // The event loop's own delays, beside what the probes see through HTTP.
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      const calls: Array<Promise<CompareAnswer>> = [];
      for (let k = 0; k < concurrent; k++) {
        const request = maximalCompare('load', keys, k);
        calls.push(
          k % 2 === 0
            ? compareOverGrpc(client, request)
            : compareOverHttp(leaderboard.webUrl, request),
        );
      }
      const all = Promise.all(calls);
      const probes = probeHealthWhile(leaderboard.webUrl, all);
      while (leaderboard.statistics.pool.pending < concurrent)
        await new Promise((resolve) => setTimeout(resolve, 5));
      const refusals = await Promise.all(
        Array.from({ length: 4 }, (_, i) => {
          const request = maximalCompare('load', keys, concurrent + i);
          return i % 2 === 0
            ? compareOverGrpc(client, request)
            : compareOverHttp(leaderboard.webUrl, request);
        }),
      );
      const answers = await all;
      const health = await probes;
      loopDelay.disable();
      const failed = answers.filter((answer) => !answer.ok);
      if (failed.length > 0) throw new Error(`comparisons failed: ${JSON.stringify(failed)}`);
      const latencies = answers.map((answer) => answer.ms);

      // Cold sweep pages, the pool idle again.
      const { store } = leaderboard;
      store.registerSweep({
        namespace: 'default',
        sweep: 'paper',
        specJson: PAPER_STUDY_SPEC,
        trialCount: 99,
      });
      const rng = new Random(7);
      for (const stored of studyResults(paperStudyConfigs(), {
        sweep: 'paper',
        seeds: 3,
        images: 40,
        rng,
      })) {
        store.reportResult(stored);
      }
      store.registerSweep({
        namespace: 'default',
        sweep: 'large',
        specJson: '{}',
        trialCount: pageConfigs * 3,
      });
      for (let i = 0; i < pageConfigs * 3; i++) {
        store.reportResult(
          syntheticResult(i, { sweep: 'large', configCount: pageConfigs, seeds: 3, rng }),
        );
      }
      const paperPage = await coldSweepPage(leaderboard, 'paper');
      console.error(`cold page of the paper's sweep: ${JSON.stringify(paperPage)}`);
      const largePage = await coldSweepPage(leaderboard, 'large');
      console.error(`cold page of ${pageConfigs} configs: ${JSON.stringify(largePage)}`);
      const result = {
        seeds,
        images,
        pairedSamples: seeds * images,
        resamples: maximalCompare('load', keys, 0).resamples,
        threads: leaderboard.statistics.pool.threads,
        concurrent,
        aloneMs: round(alone.ms),
        cachedMs: round(cached.ms),
        idle: {
          healthProbes: idle.length,
          healthP50Ms: round(percentile(idle, 0.5)),
          healthP99Ms: round(percentile(idle, 0.99)),
          healthMaxMs: round(Math.max(...idle)),
        },
        underLoad: {
          compareP50Ms: round(percentile(latencies, 0.5)),
          compareMaxMs: round(Math.max(...latencies)),
          healthProbes: health.length,
          healthP50Ms: round(percentile(health, 0.5)),
          healthP99Ms: round(percentile(health, 0.99)),
          healthMaxMs: round(Math.max(...health)),
          eventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
          eventLoopDelayMaxMs: round(loopDelay.max / 1e6),
        },
        pastTheLimit: refusals.map((answer) => (answer.ok ? 'answered' : answer.status)),
        pastTheLimitMaxMs: round(Math.max(...refusals.map((answer) => answer.ms))),
        coldSweepPage: { paper: paperPage, [`synthetic${pageConfigs}Configs`]: largePage },
        targets: {
          healthP99Under50Ms: percentile(health, 0.99) < 50,
          pastTheLimitRefused: refusals.every((answer) => !answer.ok),
        },
        peakRssMiB: peakRssMiB(),
      };
      console.error(`under load: ${JSON.stringify(result.underLoad)}`);
      return result;
    } finally {
      client.close();
      await leaderboard.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default benchmark;

/**
 * A sweep page requested cold (its summary computed on the pool, read in slices, the page
 * rendered) while /healthz is probed and the event loop's delays recorded, then warm.
 */
async function coldSweepPage(
  leaderboard: Awaited<ReturnType<typeof startLeaderboard>>,
  sweep: string,
) {
  const url = `${leaderboard.webUrl}/sweeps/default/${sweep}`;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const started = performance.now();
  const cold = fetch(url).then(async (response) => {
    await response.text();
    return response.status;
  });
  const health = await probeHealthWhile(leaderboard.webUrl, cold);
  const status = await cold;
  const coldMs = performance.now() - started;
  loopDelay.disable();
  const warmStarted = performance.now();
  await (await fetch(url)).text();
  const warmMs = performance.now() - warmStarted;
  const summary = await leaderboard.statistics.sweepSummary({ namespace: 'default', sweep });
  return {
    status,
    configs: summary.configs.length,
    coldMs: round(coldMs),
    warmMs: round(warmMs),
    healthProbes: health.length,
    healthP50Ms: round(percentile(health, 0.5)),
    healthP99Ms: round(percentile(health, 0.99)),
    healthMaxMs: round(Math.max(...health)),
    eventLoopDelayMaxMs: round(loopDelay.max / 1e6),
  };
}
