/**
 * The servers' asynchronous face of the expensive reads: CompareConfigs checked on the main
 * thread, read and computed on the statistics pool (./pool.ts), and answered from a cache
 * while the sweep's results are unchanged.
 *
 * The workers read the predictions through their own read-only connections rather than the
 * main thread shipping them: the read grows with stored data (two configs of 5 seeds x 2,000
 * images took 50-75 ms of the event loop here, more than a health probe may wait), while
 * what is left on the main thread is checking the request and one indexed max().
 */
import type { CompareConfigsResponse } from '@masksweep/proto';
import { evictOldest } from '../store/lru.js';
import type { Store } from '../store/store.js';
import type { CompareConfigsInput, SweepSummary, SweepSummaryInput } from '../store/types.js';
import { requireConfidence, requireName } from '../store/validate.js';
import { checkCompareRequest } from './compare.js';
import { StatisticsPool, type StatisticsPoolOptions } from './pool.js';

/** Comparisons kept; each holds two scalars per seed and a few figures. */
const MAX_CACHED_COMPARISONS = 256;
/** Summaries kept (as many as the main thread's own, ./sweep-summary.ts). */
const MAX_CACHED_SUMMARIES = 16;

export interface StatisticsOptions extends StatisticsPoolOptions {}

export class Statistics {
  readonly pool: StatisticsPool;
  readonly #store: Store;
  /** By data version and request: the answer, or the computation under way (shared). */
  readonly #comparisons = new Map<string, Promise<CompareConfigsResponse>>();
  readonly #summaries = new Map<string, Promise<SweepSummary>>();

  constructor(store: Store, options: StatisticsOptions = {}) {
    this.#store = store;
    this.pool = new StatisticsPool(options);
  }

  /**
   * A paired comparison (../analysis/compare.ts). An identical request on the same stored
   * results answers from the cache, or joins the computation under way; any result stored
   * in the sweep since changes its version (the latest sequence of its results) and so the
   * key. (A worker reads after the version was taken: an answer is as new as its key or newer.)
   */
  async compareConfigs(request: CompareConfigsInput): Promise<CompareConfigsResponse> {
    const checked = checkCompareRequest(request);
    const version = this.#store.latestSequence(checked.namespace, checked.sweep);
    const key = JSON.stringify([version, checked]);
    return cachedOrComputed(this.#comparisons, key, MAX_CACHED_COMPARISONS, () =>
      this.pool.compare({ kind: 'compare', database: this.#store.path, request: checked }),
    );
  }

  /**
   * GetSweepSummary as gRPC and /api/.../summary ask for it, at any confidence the client
   * picks (each a summary of its own: computed cold, up to a second of bootstraps for the
   * paper's sweep), and at 0.95 for the web pages and live updates, which share it. A worker
   * computes it, keeping its own summaries up to date incrementally; this thread keeps the
   * answers by the sweep's version (latest result sequence and spec), so every page and
   * stream of a sweep waits for one task per new version (see docs/leaderboard.md#limits).
   * The store's synchronous getSweepSummary (the CLI's, in process) is another cache.
   */
  async sweepSummary(request: SweepSummaryInput): Promise<SweepSummary> {
    const checked = {
      namespace: requireName('namespace', request.namespace),
      sweep: requireName('sweep', request.sweep),
      confidence: requireConfidence('confidence', request.confidence),
    };
    const { specJson } = this.#store.requireSweep(checked.namespace, checked.sweep);
    const version = this.#store.latestSequence(checked.namespace, checked.sweep);
    const key = JSON.stringify([version, specJson, checked]);
    return cachedOrComputed(this.#summaries, key, MAX_CACHED_SUMMARIES, () =>
      this.pool.summary({ kind: 'summary', database: this.#store.path, request: checked }),
    );
  }

  close(): Promise<void> {
    this.#comparisons.clear();
    this.#summaries.clear();
    return this.pool.close();
  }
}

/**
 * The cached answer (or the computation under way) for `key`, else `compute()`'s, kept in an
 * LRU of `capacity`. A refusal (busy, stopped, not found) is not an answer to keep.
 */
function cachedOrComputed<T>(
  cache: Map<string, Promise<T>>,
  key: string,
  capacity: number,
  compute: () => Promise<T>,
): Promise<T> {
  const cached = cache.get(key);
  if (cached) {
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  const answer = compute();
  cache.set(key, answer);
  evictOldest(cache, capacity);
  answer.catch(() => {
    if (cache.get(key) === answer) cache.delete(key);
  });
  return answer;
}
