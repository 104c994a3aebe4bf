/**
 * The web view's summaries off the event loop, on the real leaderboard (real HTTP, real
 * SQLite file, the statistics pool's worker): cold sweep pages of paper-sized sweeps, each
 * 0.6-1.1 s of bootstraps, leave /healthz answering; past the pool's limit a page is refused
 * with 429 and Retry-After; the live stream gets a sweep's new summary from the pool. The
 * store's own (synchronous, event-loop) summary is never called by the web view.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@masksweep/random';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { probeHealthWhile } from '../analysis/load.test-support.js';
import { type Leaderboard, startLeaderboard } from '../leaderboard.js';
import {
  PAPER_STUDY_SPEC,
  paperStudyConfigs,
  studyResults,
} from '../store/fixtures.test-support.js';

const TOKEN = '5a9d'.repeat(16);
const LIMIT = 4;
const SEEDS = 3;
const IMAGES = 40;
/** As in ../analysis/statistics.int.test.ts: loose, for vitest's parallel files on 2 cores. */
const HEALTH_P99_BOUND_MS = 200;
const HEALTH_P50_BOUND_MS = 20;

let dir: string;
let leaderboard: Leaderboard;
let inPlaceSummaries: MockInstance;
let pooledSummaries: MockInstance;
const configs = paperStudyConfigs();
const sweeps = Array.from({ length: LIMIT + 1 }, (_, k) => `paper-${k}`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-pages-'));
  leaderboard = await startLeaderboard({
    database: join(dir, 'lb.db'),
    token: TOKEN,
    statistics: { threads: 1, maxPending: LIMIT },
  });
  const { store } = leaderboard;
  for (const [k, sweep] of sweeps.entries()) {
    store.registerSweep({
      namespace: 'default',
      sweep,
      specJson: PAPER_STUDY_SPEC,
      trialCount: 99,
    });
    for (const result of studyResults(configs, {
      sweep,
      seeds: SEEDS,
      images: IMAGES,
      rng: new Random(k),
    })) {
      store.reportResult(result);
    }
  }
  inPlaceSummaries = vi.spyOn(store, 'getSweepSummary');
  pooledSummaries = vi.spyOn(leaderboard.statistics.pool, 'summary');
  // The first fetch of a process loads its HTTP client: not what the probes measure.
  await (await fetch(`${leaderboard.webUrl}/healthz`)).text();
});
afterAll(async () => {
  await leaderboard?.close();
  rmSync(dir, { recursive: true, force: true });
});

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
};

async function page(
  sweep: string,
): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const response = await fetch(`${leaderboard.webUrl}/sweeps/default/${sweep}`);
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: await response.text(),
  };
}

describe('sweep pages on the statistics pool', () => {
  it('serves cold sweep pages with /healthz free, and refuses one past the limit', async () => {
    const { statistics } = leaderboard;
    const cold = Promise.all(sweeps.slice(0, LIMIT).map(page));
    const probes = probeHealthWhile(leaderboard.webUrl, cold);
    await vi.waitFor(() => expect(statistics.pool.pending).toBe(LIMIT), {
      timeout: 5_000,
      interval: 5,
    });
    const refused = await page(sweeps[LIMIT] as string);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toMatch(/^[1-9]\d*$/);
    expect(refused.body).toContain('statistics.maxPending = 4');
    const pages = await cold;
    const times = await probes;
    for (const answer of pages) {
      expect(answer.status).toBe(200);
      // Every grid's tables, with the comparisons against scratch.
      expect(answer.body.match(/<table class="result-table"/g)?.length).toBe(8);
      expect(answer.body).toContain('vs scratch');
    }
    expect(times.length).toBeGreaterThan(20);
    expect(percentile(times, 0.99), `/healthz p99 over ${times.length} probes`).toBeLessThan(
      HEALTH_P99_BOUND_MS,
    );
    expect(percentile(times, 0.5), '/healthz median').toBeLessThan(HEALTH_P50_BOUND_MS);
    // Warm: from the cache, no task.
    const tasks = pooledSummaries.mock.calls.length;
    expect(tasks).toBe(LIMIT + 1);
    expect((await page(sweeps[0] as string)).status).toBe(200);
    expect(pooledSummaries.mock.calls.length).toBe(tasks);
    expect(inPlaceSummaries).not.toHaveBeenCalled();
  });

  it('gives the live stream the new summary from the pool', async () => {
    const sweep = sweeps[0] as string;
    const tasks = pooledSummaries.mock.calls.length;
    const { text, extra } = await streamAfterNewSeed(sweep);
    const config = text.split('\n\n').find((block) => block.startsWith('event: config'));
    expect(config).toContain(`"configKey":"${extra.config?.configKey}"`);
    // Counts the new result: computed after it, on the pool.
    expect(text).toMatch(/"resultCount":100/);
    expect(pooledSummaries.mock.calls.length).toBe(tasks + 1);
    expect(inPlaceSummaries).not.toHaveBeenCalled();
  });

  it("keeps a stream's new results while the pool is at its limit, and sends them after", async () => {
    const { statistics } = leaderboard;
    const sweep = sweeps[1] as string;
    // The pool full: cold summaries of another sweep at confidences of their own.
    const busy = Promise.all(
      Array.from({ length: LIMIT }, (_, k) =>
        statistics.sweepSummary({
          namespace: 'default',
          sweep: sweeps[2] as string,
          confidence: 0.5 + k / 100,
        }),
      ),
    );
    expect(statistics.pool.pending).toBe(LIMIT);
    const { text } = await streamAfterNewSeed(sweep);
    await busy;
    expect(text).toMatch(/"resultCount":100/);
    // Refused at least once while the pool was full, then answered.
    const asked = pooledSummaries.mock.calls.filter(
      ([task]) => (task as { request: { sweep: string } }).request.sweep === sweep,
    );
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(inPlaceSummaries).not.toHaveBeenCalled();
  });
});

/**
 * Opens the live stream of `sweep`, stores a fourth seed of the scratch config that is the
 * reference of others, and reads the stream until its result event.
 */
async function streamAfterNewSeed(sweep: string) {
  const controller = new AbortController();
  const response = await fetch(`${leaderboard.webUrl}/events/default/${sweep}`, {
    signal: controller.signal,
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const scratch = configs.find(
    (c) => c.method === 'scratch' && c.augmentation === 'randomResizedCrop',
  ) as (typeof configs)[number];
  const [extra] = studyResults([scratch], {
    sweep,
    seeds: SEEDS + 1,
    images: IMAGES,
    rng: new Random(99),
  }).slice(SEEDS);
  if (!extra) throw new Error('no fourth seed');
  expect(leaderboard.store.reportResult(extra).stored).toBe(true);
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('event: result')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  controller.abort();
  return { text, extra };
}
