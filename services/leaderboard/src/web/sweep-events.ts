/**
 * Live updates of sweep pages as Server-Sent Events. Each stream keeps two cursors (the last
 * result sequence and metric point id it sent); a store change for its sweep schedules one
 * flush that sends everything after the cursors, so bursts are batched and nothing is
 * skipped. The event id carries both cursors, so a reconnecting browser resumes.
 *
 * A flush with new results waits for the sweep's summary from the statistics pool (shared
 * by every stream and page of the sweep, computed once per new version of it), so the event
 * loop serves other requests meanwhile. One flush per stream runs at a time; a pool at its
 * limit defers the results (not the curves) until its Retry-After.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Statistics } from '../analysis/statistics.js';
import { BusyError, StatisticsTimeoutError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { StoreChange, SweepSummary } from '../store/types.js';
import type {
  ConfigUpdate,
  PointsUpdate,
  ReferenceUpdate,
  ResultUpdate,
} from './client/contract.js';
import { rankedRow, recentResultRow, referenceRows, wirePoint } from './pages.js';

const RESULTS_PER_FLUSH = 200;
const POINTS_PER_FLUSH = 5000;
const HEARTBEAT_MS = 15_000;
/** After a summary stopped at the pool's time limit, the results wait this long to try again. */
const RETRY_AFTER_TIMEOUT_MS = 30_000;

interface Stream {
  namespace: string;
  sweep: string;
  response: ServerResponse;
  resultCursor: number;
  pointCursor: number;
  timer: NodeJS.Timeout | undefined;
  /** Waiting for the socket to drain before sending more. */
  blocked: boolean;
  /** A flush is under way (waiting for the summary); a change meanwhile sets `again`. */
  flushing: boolean;
  again: boolean;
}

export interface SweepEventsOptions {
  store: Store;
  /** Where the summary of a sweep with new results comes from (the pool or its cache). */
  statistics: Statistics;
  metrics: Metrics;
  /** How long a change waits for others to join its flush. */
  pushDelayMs: number;
  /** Rows of the page's "latest results" table. */
  recentLimit: number;
}

export class SweepEvents {
  private readonly streams = new Set<Stream>();
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly options: SweepEventsOptions) {
    this.unsubscribe = options.store.subscribe((change) => this.onChange(change));
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.response.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * Starts a stream after the given cursors; a Last-Event-ID header (a reconnection) wins
   * over them. Without either, the stream starts with what is stored next.
   */
  open(
    request: IncomingMessage,
    response: ServerResponse,
    target: { namespace: string; sweep: string; resultCursor?: number; pointCursor?: number },
  ): void {
    const { store, metrics } = this.options;
    const resumed = parseEventId(request.headers['last-event-id']);
    const stream: Stream = {
      namespace: target.namespace,
      sweep: target.sweep,
      response,
      resultCursor:
        resumed?.resultCursor ??
        target.resultCursor ??
        store.latestSequence(target.namespace, target.sweep),
      pointCursor: resumed?.pointCursor ?? target.pointCursor ?? store.lastPointId(),
      timer: undefined,
      blocked: false,
      flushing: false,
      again: false,
    };
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    this.streams.add(stream);
    metrics.sseClients.inc();
    request.on('close', () => this.drop(stream));
    // Whatever was stored between the page's render and this connection.
    this.schedule(stream, 0);
  }

  get clientCount(): number {
    return this.streams.size;
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const stream of this.streams) {
      stream.response.end();
      this.drop(stream);
    }
  }

  private onChange(change: StoreChange): void {
    for (const stream of this.streams) {
      const concerned =
        change.type === 'result'
          ? change.namespace === stream.namespace && change.sweep === stream.sweep
          : change.type === 'metrics' &&
            change.sweeps.some((s) => s.namespace === stream.namespace && s.sweep === stream.sweep);
      if (concerned) this.schedule(stream, this.options.pushDelayMs);
    }
  }

  private schedule(stream: Stream, delayMs: number): void {
    if (stream.flushing) {
      stream.again = true;
      return;
    }
    if (stream.timer || stream.blocked || !this.streams.has(stream)) return;
    stream.timer = setTimeout(() => {
      stream.timer = undefined;
      stream.flushing = true;
      this.flush(stream).then(
        (nextDelayMs) => {
          stream.flushing = false;
          const again = stream.again;
          stream.again = false;
          if (nextDelayMs !== undefined) this.schedule(stream, nextDelayMs);
          else if (again) this.schedule(stream, this.options.pushDelayMs);
        },
        () => {
          // The store was closed under the stream: end it, the browser reconnects elsewhere.
          stream.flushing = false;
          stream.response.end();
          this.drop(stream);
        },
      );
    }, delayMs);
  }

  /** Sends what is new; answers when to flush again (undefined: at the next change). */
  private async flush(stream: Stream): Promise<number | undefined> {
    const { store, statistics, recentLimit } = this.options;
    const { namespace, sweep } = stream;
    const results = store.resultsSince(stream.resultCursor, {
      namespace,
      sweep,
      limit: RESULTS_PER_FLUSH,
    });
    // The summary as new as these results or newer; undefined while the pool is at its limit.
    let summary: SweepSummary | undefined;
    let retryMs: number | undefined;
    if (results.length > 0) {
      try {
        summary = await statistics.sweepSummary({ namespace, sweep });
      } catch (error) {
        if (error instanceof BusyError) retryMs = error.retryAfterSeconds * 1000;
        else if (error instanceof StatisticsTimeoutError) retryMs = RETRY_AFTER_TIMEOUT_MS;
        else throw error;
      }
      if (!this.streams.has(stream)) return undefined;
    }
    let writable = true;
    if (summary) {
      stream.resultCursor = (results.at(-1) as (typeof results)[number]).sequence;
      const changedKeys = new Set(results.map((result) => result.config.configKey));
      for (const config of summary.configs) {
        if (!changedKeys.has(config.config.configKey)) continue;
        const update: ConfigUpdate = {
          configKey: config.config.configKey,
          html: rankedRow(config, 0, namespace, summary.objective).value,
        };
        writable = send(stream, 'config', update);
      }
      // The trivial classifiers appear with the first predictions of a test set.
      const reference: ReferenceUpdate = { html: referenceRows(summary.trivial).value };
      writable = send(stream, 'reference', reference);
      for (const result of results.slice(-recentLimit)) {
        const update: ResultUpdate = {
          html: recentResultRow(result).value,
          resultCount: summary.resultCount,
        };
        writable = send(stream, 'result', update);
      }
    }
    const points = store.sweepPointsSince({
      namespace,
      sweep,
      sinceId: stream.pointCursor,
      limit: POINTS_PER_FLUSH,
    });
    if (points.length > 0) {
      stream.pointCursor = (points.at(-1) as (typeof points)[number]).id;
      const update: PointsUpdate = points.map(wirePoint);
      writable = send(stream, 'points', update);
    }
    const more =
      (summary !== undefined && results.length === RESULTS_PER_FLUSH) ||
      points.length === POINTS_PER_FLUSH;
    if (!writable) {
      stream.blocked = true;
      stream.response.once('drain', () => {
        stream.blocked = false;
        this.schedule(stream, 0);
      });
      return undefined;
    }
    return more ? 0 : retryMs;
  }

  private drop(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    clearTimeout(stream.timer);
    this.options.metrics.sseClients.dec();
  }
}

/** Writes one event; false when the socket's buffer is full. */
function send(stream: Stream, event: string, data: unknown): boolean {
  return stream.response.write(
    `event: ${event}\nid: ${stream.resultCursor}.${stream.pointCursor}\ndata: ${JSON.stringify(data)}\n\n`,
  );
}

function parseEventId(
  header: string | string[] | undefined,
): { resultCursor: number; pointCursor: number } | undefined {
  const match = typeof header === 'string' ? /^(\d+)\.(\d+)$/.exec(header) : null;
  if (!match) return undefined;
  return { resultCursor: Number(match[1]), pointCursor: Number(match[2]) };
}
