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
import type { CompareConfigsInput } from '../store/types.js';
import { checkCompareRequest } from './compare.js';
import { StatisticsPool, type StatisticsPoolOptions } from './pool.js';

/** Comparisons kept; each holds two scalars per seed and a few figures. */
const MAX_CACHED_COMPARISONS = 256;

export interface StatisticsOptions extends StatisticsPoolOptions {}

export class Statistics {
  readonly pool: StatisticsPool;
  readonly #store: Store;
  /** By data version and request: the answer, or the computation under way (shared). */
  readonly #comparisons = new Map<string, Promise<CompareConfigsResponse>>();

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
    const cached = this.#comparisons.get(key);
    if (cached) {
      this.#comparisons.delete(key);
      this.#comparisons.set(key, cached);
      return cached;
    }
    const answer = this.pool.compare({
      kind: 'compare',
      database: this.#store.path,
      request: checked,
    });
    this.#comparisons.set(key, answer);
    evictOldest(this.#comparisons, MAX_CACHED_COMPARISONS);
    // A refusal (busy, stopped) is not an answer to keep.
    answer.catch(() => {
      if (this.#comparisons.get(key) === answer) this.#comparisons.delete(key);
    });
    return answer;
  }

  close(): Promise<void> {
    this.#comparisons.clear();
    return this.pool.close();
  }
}
