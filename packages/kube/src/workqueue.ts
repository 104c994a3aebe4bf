/**
 * A work queue of keys with controller-runtime's semantics: a key waits at most once however
 * often it is added, is handled by one worker at a time (added while handled, it is handled
 * once more after), and a key whose handling failed is retried after a per-key exponential
 * back-off (ItemExponentialFailureRateLimiter's 5 ms doubling to 1000 s by default), forgotten
 * on its next success. A TerminalError is reported and never retried. A key handled longer
 * than `slowAfterMs` stops holding its worker, so slow keys cannot starve the others.
 */

/** A failure that retrying cannot fix (the object is wrong, not the world): never retried. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/** What a handled key asks for: to be handled again after this long (a retry time, say). */
export interface WorkResult {
  requeueAfterMs?: number;
}

/** Timers of the queue; tests pass a fake one. */
export interface WorkQueueClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WorkQueueOptions {
  /** Handles one key. */
  handle: (key: string) => Promise<WorkResult | undefined>;
  /** Keys handled at once. @default 1 */
  workers?: number;
  /** The first retry's delay after a failure; it doubles with each failure in a row. @default 5 */
  baseDelayMs?: number;
  /** The longest retry delay. @default 1000000 (1000 s) */
  maxDelayMs?: number;
  /**
   * A key handled longer than this no longer counts against `workers`: another key starts
   * beside it (the slow key is still never handled twice at once). @default never
   */
  slowAfterMs?: number;
  /** Told of each failure, with the delay of its retry (undefined: not retried). */
  onError?: (key: string, error: Error, retryInMs: number | undefined) => void;
  /** @default the process's timers (unref'd: a waiting retry keeps no process alive) */
  clock?: WorkQueueClock;
}

const realClock: WorkQueueClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class WorkQueue {
  readonly #handle: WorkQueueOptions['handle'];
  readonly #workers: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #slowAfterMs: number | undefined;
  readonly #onError: NonNullable<WorkQueueOptions['onError']> | undefined;
  readonly #clock: WorkQueueClock;
  /** Keys to handle, in order; each also in #dirty. */
  readonly #queue: string[] = [];
  /** Keys added and not yet taken by a worker (a handled key may be here: it runs again). */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  /** Keys handled that hold a worker (not yet slow). */
  #holdingWorkers = 0;
  /** Failures in a row per key: the back-off's exponent. */
  readonly #failures = new Map<string, number>();
  /** Keys added for later, with when (the earliest of several adds wins). */
  readonly #delayed = new Map<string, { at: number; timer: unknown }>();
  #idle: Array<() => void> = [];
  #shutDown = false;

  constructor(options: WorkQueueOptions) {
    this.#handle = options.handle;
    this.#workers = options.workers ?? 1;
    this.#baseDelayMs = options.baseDelayMs ?? 5;
    this.#maxDelayMs = options.maxDelayMs ?? 1_000_000;
    this.#slowAfterMs = options.slowAfterMs;
    this.#onError = options.onError;
    this.#clock = options.clock ?? realClock;
  }

  /** Handles the key soon: once, however often it is added before a worker takes it. */
  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#processing.has(key)) this.#queue.push(key);
    this.#drain();
  }

  /** Adds the key after `delayMs`; an earlier pending add of the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + delayMs;
    const pending = this.#delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.#clock.clearTimeout(pending.timer);
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.#delayed.set(key, { at, timer });
  }

  /** Resets the key's back-off (a success does so itself). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Failures in a row of the key (0 after a success). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Resolves when no key is handled or waits to be (delayed adds do not count). */
  idle(): Promise<void> {
    if (this.#processing.size === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Takes no more keys, drops the delayed ones, and waits for the keys being handled. */
  async shutDown(): Promise<void> {
    this.#shutDown = true;
    for (const { timer } of this.#delayed.values()) this.#clock.clearTimeout(timer);
    this.#delayed.clear();
    for (const key of this.#queue.splice(0)) this.#dirty.delete(key);
    await this.idle();
  }

  #drain(): void {
    while (this.#holdingWorkers < this.#workers && this.#queue.length > 0) {
      const key = this.#queue.shift() as string;
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#holdingWorkers += 1;
      void this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      this.#holdingWorkers -= 1;
    };
    const slow =
      this.#slowAfterMs === undefined
        ? undefined
        : this.#clock.setTimeout(() => {
            release();
            this.#drain();
          }, this.#slowAfterMs);
    try {
      const result = await this.#handle(key);
      this.forget(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      if (error instanceof TerminalError) {
        this.forget(key);
        this.#onError?.(key, error, undefined);
      } else {
        const failures = this.failures(key) + 1;
        this.#failures.set(key, failures);
        const delay = Math.min(this.#baseDelayMs * 2 ** (failures - 1), this.#maxDelayMs);
        this.#onError?.(key, error, delay);
        this.addAfter(key, delay);
      }
    } finally {
      if (slow !== undefined) this.#clock.clearTimeout(slow);
      release();
      this.#processing.delete(key);
      if (this.#dirty.has(key) && !this.#shutDown) this.#queue.push(key);
      else this.#dirty.delete(key);
      this.#drain();
      if (this.#processing.size === 0 && this.#queue.length === 0)
        for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}
