/**
 * Load on the statistics pool, for its integration test and the `compare-load` benchmark:
 * two configs stored with enough predictions that a comparison at the resample limit keeps
 * a worker busy, CompareConfigs sent over gRPC and the web view at once, and /healthz
 * probed while they run.
 */
import type { LeaderboardClient } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  fixtureConfigKey,
  type StudyConfig,
  studyResults,
} from '../store/fixtures.test-support.js';
import type { Store } from '../store/store.js';
import { MAX_COMPARE_RESAMPLES } from './compare.js';

const PAIR: StudyConfig[] = [
  {
    method: 'spark',
    maskType: 'random',
    maskRatio: 0.6,
    augmentation: 'randomResizedCrop',
    grids: [],
    testSkill: 0.86,
    valF1: 0.8,
  },
  {
    method: 'spark',
    maskType: 'mesh',
    maskRatio: 0.6,
    augmentation: 'randomResizedCrop',
    grids: [],
    testSkill: 0.82,
    valF1: 0.78,
  },
];

/** Registers `sweep` and stores two configs x `seeds` x `images`; gives their config keys. */
export function storeComparedPair(
  // The methods alone: the benchmark passes the built package's Store.
  store: Pick<Store, 'registerSweep' | 'reportResult'>,
  options: { sweep: string; seeds: number; images: number },
): { configKeyA: string; configKeyB: string } {
  const { sweep, seeds, images } = options;
  store.registerSweep({ namespace: 'default', sweep, specJson: '{}', trialCount: 2 * seeds });
  for (const result of studyResults(PAIR, { sweep, seeds, images, rng: new Random(7) }))
    store.reportResult(result);
  const [a, b] = PAIR.map((config) => fixtureConfigKey(config)) as [string, string];
  return { configKeyA: a, configKeyB: b };
}

/** The k-th of a set of distinct maximal comparisons (distinct seeds: no cache hit). */
export function maximalCompare(
  sweep: string,
  keys: { configKeyA: string; configKeyB: string },
  k: number,
) {
  return { namespace: 'default', sweep, ...keys, resamples: MAX_COMPARE_RESAMPLES, seed: k + 1 };
}

export type CompareAnswer = { ok: true; ms: number } | { ok: false; status: string; ms: number };

/** One CompareConfigs over gRPC: its time, or the status it was refused with. */
export async function compareOverGrpc(
  client: LeaderboardClient,
  request: ReturnType<typeof maximalCompare>,
): Promise<CompareAnswer> {
  const started = performance.now();
  try {
    await client.compareConfigs(request);
    return { ok: true, ms: performance.now() - started };
  } catch (error) {
    const code = (error as { code?: number }).code;
    return { ok: false, status: `grpc ${code}`, ms: performance.now() - started };
  }
}

/** One /api/compare: its time, or the status (and Retry-After) it was refused with. */
export async function compareOverHttp(
  webUrl: string,
  request: ReturnType<typeof maximalCompare>,
): Promise<CompareAnswer> {
  const query = new URLSearchParams({
    ns: request.namespace,
    sweep: request.sweep,
    a: request.configKeyA,
    b: request.configKeyB,
    resamples: String(request.resamples),
    seed: String(request.seed),
  });
  const started = performance.now();
  const response = await fetch(`${webUrl}/api/compare?${query}`);
  await response.arrayBuffer();
  const ms = performance.now() - started;
  if (response.ok) return { ok: true, ms };
  return {
    ok: false,
    status: `http ${response.status} retry-after ${response.headers.get('retry-after')}`,
    ms,
  };
}

/**
 * GET /healthz one after another, `gapMs` apart, until `work` settles: each answer's time.
 * The probes run on the caller's event loop, as the servers do when started in-process, so a
 * blocked loop shows in them whichever side it blocks.
 */
export async function probeHealthWhile(
  webUrl: string,
  work: Promise<unknown>,
  gapMs = 10,
): Promise<number[]> {
  let done = false;
  const stop = () => {
    done = true;
  };
  work.then(stop, stop);
  const times: number[] = [];
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${webUrl}/healthz`);
    await response.text();
    if (response.status !== 200) throw new Error(`/healthz answered ${response.status}`);
    times.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return times;
}
