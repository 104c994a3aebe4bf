/**
 * The leaderboard's statistics off the event loop: a small pool of worker threads (piscina)
 * that run the bootstraps of ./worker.ts, so that gRPC, the web view and /healthz answer
 * while they run. The pool admits a bounded number of tasks (running or waiting) and refuses
 * more at once (BusyError) rather than queueing without end; a task that runs past the
 * time limit is stopped, its worker ended and replaced.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CompareConfigsResponse } from '@masksweep/proto';
import { Piscina } from 'piscina';
import { BusyError, StatisticsTimeoutError } from '../errors.js';
import type { SweepSummary } from '../store/types.js';
import { type PackedSummary, unpackSummary } from './summary-transfer.js';
import { type StatisticsTask, type TaskOutcome, taskAnswer } from './worker.js';

export interface StatisticsPoolOptions {
  /** Worker threads. @default max(1, cores - 1) */
  threads?: number;
  /** Tasks running or waiting at once; more are refused. @default max(8, 4 x threads) */
  maxPending?: number;
  /** A task running longer than this is stopped (its wait for a thread not counted). @default 30000 */
  taskTimeoutMs?: number;
}

/** The workers' niceness above the event loop's (here a busy machine delayed /healthz 2-3x less). */
const WORKER_NICENESS = 10;

/** Idle workers are ended after this long, so an unused leaderboard holds no threads. */
const IDLE_TIMEOUT_MS = 60_000;

export class StatisticsPool {
  readonly threads: number;
  readonly maxPending: number;
  readonly taskTimeoutMs: number;
  readonly #pool: Piscina;
  /** Admitted: running, or waiting in #waiting for a thread. */
  #pending = 0;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  /** A running mean of the time from admission to answer, for Retry-After. */
  #meanLatencySeconds = 1;

  constructor(options: StatisticsPoolOptions = {}) {
    this.threads = options.threads ?? Math.max(1, availableParallelism() - 1);
    this.maxPending = options.maxPending ?? Math.max(8, 4 * this.threads);
    this.taskTimeoutMs = options.taskTimeoutMs ?? 30_000;
    if (!Number.isInteger(this.threads) || this.threads < 1)
      throw new Error(`statistics.threads: must be an integer of 1 or more, got ${this.threads}`);
    if (!Number.isInteger(this.maxPending) || this.maxPending < 1)
      throw new Error(
        `statistics.maxPending: must be an integer of 1 or more, got ${this.maxPending}`,
      );
    // Built, the worker is dist/analysis/worker.js. Run from the TypeScript sources (vitest,
    // tsx), it is worker.ts, which a worker thread loads only with tsx registered in it
    // (Node 20's workers do not inherit the parent's --import), on the sources of the packages.
    const fromSources = import.meta.url.endsWith('.ts');
    this.#pool = new Piscina({
      filename: fileURLToPath(new URL(`./worker.${fromSources ? 'ts' : 'js'}`, import.meta.url)),
      execArgv: fromSources ? ['--conditions=masksweep-source', '--import', 'tsx'] : undefined,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: IDLE_TIMEOUT_MS,
      // Background work: where the cores are busy, the event loop gets them first (nice(2)
      // per thread on Linux, through piscina's optional @napi-rs/nice; skipped without it).
      niceIncrement: WORKER_NICENESS,
    });
  }

  /** Tasks admitted and not finished. */
  get pending(): number {
    return this.#pending;
  }

  async compare(
    task: Extract<StatisticsTask, { kind: 'compare' }>,
  ): Promise<CompareConfigsResponse> {
    return taskAnswer((await this.#run(task)) as TaskOutcome<CompareConfigsResponse>);
  }

  async summary(task: Extract<StatisticsTask, { kind: 'summary' }>): Promise<SweepSummary> {
    return unpackSummary(taskAnswer((await this.#run(task)) as TaskOutcome<PackedSummary>));
  }

  async #run(task: StatisticsTask): Promise<unknown> {
    if (this.#pending >= this.maxPending) {
      // By then, typically, the tasks admitted now have answered.
      const retryAfter = Math.max(1, Math.ceil(this.#meanLatencySeconds));
      throw new BusyError(
        'statistics.maxPending',
        `the leaderboard is computing ${this.#pending} statistics requests, its limit (statistics.maxPending = ${this.maxPending}); try again in ${retryAfter} s`,
        retryAfter,
      );
    }
    this.#pending += 1;
    const admitted = performance.now();
    let running = false;
    try {
      // Handed to piscina only when a thread is free, so that the time limit counts the
      // task's own run, not its wait behind others.
      if (this.#running < this.threads) this.#running += 1;
      // A finishing task hands its thread over (#running stays as it is).
      else await new Promise<void>((go) => this.#waiting.push(go));
      running = true;
      const result = await this.#pool.run(task, {
        signal: AbortSignal.timeout(this.taskTimeoutMs),
      });
      const seconds = (performance.now() - admitted) / 1000;
      this.#meanLatencySeconds = 0.8 * this.#meanLatencySeconds + 0.2 * seconds;
      return result;
    } catch (error) {
      if ((error as Error).name === 'AbortError') {
        throw new StatisticsTimeoutError(
          `the statistics took longer than ${this.taskTimeoutMs / 1000} s (statistics.taskTimeoutMs) and were stopped; a comparison with fewer resamples costs less`,
        );
      }
      throw error;
    } finally {
      this.#pending -= 1;
      if (running) {
        const next = this.#waiting.shift();
        if (next) next();
        else this.#running -= 1;
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
    // Tasks still waiting go on to the destroyed pool, which refuses them.
    for (const go of this.#waiting.splice(0)) go();
  }
}
