/**
 * The statistics off the event loop, on the real leaderboard (real gRPC port, real HTTP,
 * real SQLite file): ten maximal comparisons at once, over gRPC and the web view, leave
 * /healthz answering; past the pool's limit a request is refused at once, naming it; an
 * identical request on unchanged results answers from the cache, and a new result in the
 * sweep invalidates it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createLeaderboardClient, type LeaderboardClient } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StatisticsTimeoutError } from '../errors.js';
import { type Leaderboard, startLeaderboard } from '../leaderboard.js';
import { studyResults } from '../store/fixtures.test-support.js';
import {
  type CompareAnswer,
  compareOverGrpc,
  compareOverHttp,
  maximalCompare,
  probeHealthWhile,
  storeComparedPair,
} from './load.test-support.js';
import { Statistics } from './statistics.js';

const TOKEN = '7c3e'.repeat(16);
const LIMIT = 10;
/**
 * The design guarantees an event loop free of the bootstraps: /healthz waits for no
 * comparison (it waited 9.9 s for one before; here each takes a worker 0.2-0.5 s, so ten on
 * the event loop would hold most probes for seconds). Under vitest's parallel files on 2
 * shared cores the OS alone holds this process for up to ~120 ms now and then (seen at the
 * burst's start), so the test asserts a p99 of 200 ms and a median of 20 ms;
 * `npm run bench -- compare-load` measures the p99 alone against 50 ms.
 */
const HEALTH_P99_BOUND_MS = 200;
const HEALTH_P50_BOUND_MS = 20;

let dir: string;
let leaderboard: Leaderboard;
let client: LeaderboardClient;
let keys: { configKeyA: string; configKeyB: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-statistics-'));
  leaderboard = await startLeaderboard({
    database: join(dir, 'lb.db'),
    token: TOKEN,
    // One worker leaves the other core to the event loop (and to the other test files).
    statistics: { threads: 1, maxPending: LIMIT },
  });
  client = createLeaderboardClient(`127.0.0.1:${leaderboard.grpcPort}`);
  // 2 seeds x 200 images: some 0.2 s of a worker per comparison at 10,000 resamples here
  // (the ten keep it busy for seconds; more images only make the test longer).
  keys = storeComparedPair(leaderboard.store, { sweep: 'load', seeds: 2, images: 200 });
  // The first fetch of a process loads its HTTP client (hundreds of ms on this event loop,
  // the probes' too): not what the probes are to measure.
  await compareOverHttp(leaderboard.webUrl, {
    ...maximalCompare('load', keys, 1000),
    resamples: 2,
  });
});
afterAll(async () => {
  client?.close();
  await leaderboard?.close();
  rmSync(dir, { recursive: true, force: true });
});

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
};

describe('the statistics pool', () => {
  it('answers the same as the comparison computed in place', async () => {
    const request = { ...maximalCompare('load', keys, 0), resamples: 500 };
    const pooled = await client.compareConfigs(request);
    const inPlace = leaderboard.store.compareConfigs(request);
    expect(pooled.pairedSamples).toBe(400);
    expect(pooled.difference).toBe(inPlace.difference);
    expect(pooled.ciLow).toBe(inPlace.ciLow);
    expect(pooled.pairedDifference?.pValue).toBe(inPlace.pairedDifference?.pValue);
  });

  it('keeps /healthz answering during ten maximal comparisons and refuses the eleventh and more', async () => {
    const calls: Array<Promise<CompareAnswer>> = [];
    for (let k = 0; k < LIMIT; k++) {
      const request = maximalCompare('load', keys, k);
      calls.push(
        k % 2 === 0
          ? compareOverGrpc(client, request)
          : compareOverHttp(leaderboard.webUrl, request),
      );
    }
    const all = Promise.all(calls);
    const probes = probeHealthWhile(leaderboard.webUrl, all);
    await vi.waitFor(() => expect(leaderboard.statistics.pool.pending).toBe(LIMIT), {
      timeout: 5_000,
      interval: 5,
    });
    // Past the limit: refused at once, over both faces, naming the limit.
    const refusedGrpc = await client.compareConfigs(maximalCompare('load', keys, LIMIT)).then(
      () => undefined,
      (error: grpc.ServiceError) => error,
    );
    expect(refusedGrpc?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refusedGrpc?.details).toMatch(/statistics\.maxPending = 10/);
    expect(refusedGrpc?.metadata.get('limit')).toEqual(['statistics.maxPending']);
    const refusedHttp = await compareOverHttp(
      leaderboard.webUrl,
      maximalCompare('load', keys, LIMIT + 1),
    );
    expect(refusedHttp).toMatchObject({
      ok: false,
      status: expect.stringMatching(/^http 429 retry-after [1-9]\d*$/),
    });
    expect(refusedHttp.ms).toBeLessThan(1000);
    const answers = await all;
    const times = await probes;
    expect(answers.filter((answer) => !answer.ok)).toEqual([]);
    expect(times.length).toBeGreaterThan(20);
    const p99 = percentile(times, 0.99);
    expect(p99, `/healthz p99 over ${times.length} probes`).toBeLessThan(HEALTH_P99_BOUND_MS);
    expect(percentile(times, 0.5), '/healthz median').toBeLessThan(HEALTH_P50_BOUND_MS);
  });

  it('answers an identical request from the cache until the sweep has a new result', async () => {
    const { statistics } = leaderboard;
    const request = { ...maximalCompare('load', keys, 100), resamples: 3000 };
    const overGrpc = await client.compareConfigs(request);
    // The same request over the web view, and again in-process: no task admitted.
    const overHttp = await fetch(
      `${leaderboard.webUrl}/api/compare?ns=default&sweep=load&a=${keys.configKeyA}&b=${keys.configKeyB}&resamples=3000&seed=101`,
    );
    expect(((await overHttp.json()) as { difference: number }).difference).toBe(
      overGrpc.difference,
    );
    const cached = statistics.compareConfigs(request);
    expect(statistics.pool.pending).toBe(0);
    expect((await cached).ciLow).toBe(overGrpc.ciLow);
    // A third seed of config B: a new result in the sweep (the pair, on the seeds both
    // have, is the same), so the same request is computed again.
    const [extra] = studyResults(
      [
        {
          method: 'spark',
          maskType: 'mesh',
          maskRatio: 0.6,
          augmentation: 'randomResizedCrop',
          grids: [],
          testSkill: 0.5,
          valF1: 0.5,
        },
      ],
      { sweep: 'load', seeds: 3, images: 200, rng: new Random(9) },
    ).slice(2);
    expect(leaderboard.store.reportResult(extra as NonNullable<typeof extra>).stored).toBe(true);
    const recomputed = statistics.compareConfigs(request);
    expect(statistics.pool.pending).toBe(1);
    expect((await recomputed).difference).toBe(overGrpc.difference);
  });

  it('stops a comparison that runs past the time limit, and computes the next', async () => {
    const statistics = new Statistics(leaderboard.store, { threads: 1, taskTimeoutMs: 150 });
    try {
      // The first task also starts the worker; a second, cheap one shows it was replaced.
      const stopped = statistics.compareConfigs(maximalCompare('load', keys, 200));
      await expect(stopped).rejects.toThrow(StatisticsTimeoutError);
      await expect(stopped).rejects.toThrow(/longer than 0\.15 s \(statistics\.taskTimeoutMs\)/);
      expect(statistics.pool.pending).toBe(0);
      const generous = new Statistics(leaderboard.store, { threads: 1 });
      try {
        const answer = await generous.compareConfigs(maximalCompare('load', keys, 200));
        expect(answer.pairedSamples).toBe(400);
      } finally {
        await generous.close();
      }
    } finally {
      await statistics.close();
    }
  });

  it('computes GetSweepSummary at a client-picked confidence on a worker, cached by the sweep version', async () => {
    const { statistics } = leaderboard;
    const request = { namespace: 'default', sweep: 'load', confidence: 0.9 };
    const overGrpc = await client.getSweepSummary(request);
    const inPlace = leaderboard.store.getSweepSummary(request);
    expect(overGrpc.confidence).toBeCloseTo(0.9);
    expect(overGrpc.configs.map((c) => c.metrics.f1?.ciLow)).toEqual(
      inPlace.configs.map((c) => c.metrics.f1?.ciLow),
    );
    // Cached: no task; the same summary the main thread computes.
    const cached = statistics.sweepSummary(request);
    expect(statistics.pool.pending).toBe(0);
    expect(await cached).toEqual(inPlace);
    const overHttp = await fetch(
      `${leaderboard.webUrl}/api/sweeps/default/load/summary?confidence=0.9`,
    );
    expect(((await overHttp.json()) as { resultCount: number }).resultCount).toBe(
      inPlace.resultCount,
    );
    // A new result in the sweep: computed again, on a worker.
    const [extra] = studyResults(
      [
        {
          method: 'scratch',
          maskType: '',
          augmentation: 'randomResizedCrop',
          grids: [],
          testSkill: 0.7,
          valF1: 0.6,
        },
      ],
      { sweep: 'load', seeds: 1, images: 200, rng: new Random(11) },
    );
    expect(leaderboard.store.reportResult(extra as NonNullable<typeof extra>).stored).toBe(true);
    const recomputed = statistics.sweepSummary(request);
    expect(statistics.pool.pending).toBe(1);
    expect(await recomputed).toEqual(leaderboard.store.getSweepSummary(request));
    await expect(statistics.sweepSummary({ namespace: 'default', sweep: 'nope' })).rejects.toThrow(
      /no sweep "nope"/,
    );
  });
});
