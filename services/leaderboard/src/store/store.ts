/**
 * The leaderboard's store: one SQLite file (WAL, synchronous=NORMAL), written and read
 * synchronously through better-sqlite3. Every write is one transaction and idempotent, so a
 * client may retry anything; listeners hear of each committed write. The SQL is in
 * statements.ts; summaries and comparisons are queries over it, in ../analysis.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CompareConfigsResponse, MetricEvent, RegisterSweepRequest } from '@masksweep/proto';
import Database from 'better-sqlite3';
import { compareConfigs } from '../analysis/compare.js';
import { SweepSummaries } from '../analysis/sweep-summary.js';
import { InvalidResultError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { checkOneTrialPerSeed, checkSameResult } from './conflicts.js';
import { buildListQuery, DRIVING_FILTER_LIMIT, encodeCursor } from './list-query.js';
import { evictOldest } from './lru.js';
import { type INDEXED_METRIC_COLUMNS, migrate } from './schema.js';
import {
  float32Blob,
  prepareStatements,
  type ResultRow,
  requireSweep,
  type Statements,
  toPoint,
  toResult,
  toSweepInfo,
} from './statements.js';
import type {
  CompareConfigsInput,
  ListResultsInput,
  ListResultsResponse,
  MetricPoint,
  StoreChange,
  SweepInfo,
  SweepSummary,
  SweepSummaryInput,
  TrialResult,
  TrialResultInput,
} from './types.js';
import {
  requireInteger,
  requireName,
  validateMetricEvents,
  validateRegisterSweep,
  validateResult,
} from './validate.js';

export interface StoreOptions {
  /** The SQLite file; it and its folder are created when missing. */
  path: string;
  /** Counts stored and ignored writes when given. */
  metrics?: Metrics;
  /**
   * How long a write waits for another process's lock before failing.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * A listing filter matching fewer results than this is where a page starts
   * (list-query.ts); tests lower it to run both plans on a few rows.
   * @default DRIVING_FILTER_LIMIT
   */
  drivingFilterLimit?: number;
}

export type StoreListener = (change: StoreChange) => void;

const MAX_CACHED_QUERIES = 256;
const MAX_CACHED_SERIES = 200_000;

export function openStore(options: StoreOptions): Store {
  return new Store(options);
}

export class Store {
  /** The SQLite file (the statistics workers open it read-only). */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly metrics: Metrics | undefined;
  private readonly drivingFilterLimit: number;
  private readonly listeners = new Set<StoreListener>();
  private readonly statements: Statements;
  private readonly listStatements = new Map<string, Database.Statement>();
  /** Total counts of listings, valid while the namespace's latest sequence is unchanged. */
  private readonly countCache = new Map<string, { sequence: number; count: number }>();
  private readonly summaries: SweepSummaries;
  /** Curve ids by (namespace, trial, attempt, stage, kind, name); rows are never deleted. */
  private readonly seriesIds = new Map<string, number>();

  constructor(options: StoreOptions) {
    mkdirSync(dirname(options.path), { recursive: true });
    this.path = options.path;
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma('foreign_keys = ON');
    // A batch of metric events dirties index pages all over; checkpointing the WAL every
    // ~40 MB rather than every 4 MB spares most of the fsyncs (the insert rate doubles).
    this.db.pragma('wal_autocheckpoint = 10000');
    migrate(this.db);
    // Refreshes the planner's statistics where they are stale (cheap; SQLite's advice for
    // long-lived connections), so selective filters pick their index.
    this.db.pragma('optimize = 0x10002');
    this.metrics = options.metrics;
    this.drivingFilterLimit = options.drivingFilterLimit ?? DRIVING_FILTER_LIMIT;
    this.statements = prepareStatements(this.db);
    this.summaries = new SweepSummaries(this.statements);
  }

  close(): void {
    this.listeners.clear();
    this.db.close();
  }

  /** Calls `listener` after every committed write; returns the unsubscribe function. */
  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  registerSweep(request: RegisterSweepRequest): { created: boolean } {
    const { namespace, sweep, specJson, trialCount } = validateRegisterSweep(request);
    const created = this.db
      .transaction(() => {
        const existing = this.statements.sweep.get(namespace, sweep);
        if (existing) {
          // A re-registration (a restarted controller, an edited Sweep) keeps the creation time.
          this.statements.updateSweep.run(specJson, trialCount, namespace, sweep);
          return false;
        }
        this.statements.insertSweep.run(namespace, sweep, specJson, trialCount, Date.now());
        return true;
      })
      .immediate();
    if (created) this.notify({ type: 'sweep', namespace, sweep });
    return { created };
  }

  /** The sweep; NotFoundError (field sweep) when it is not registered. */
  requireSweep(namespace: string, sweep: string): SweepInfo {
    return toSweepInfo(this.statements, requireSweep(this.statements, namespace, sweep));
  }

  getSweep(namespace: string, sweep: string): SweepInfo | undefined {
    const row = this.statements.sweep.get(namespace, sweep);
    return row ? toSweepInfo(this.statements, row) : undefined;
  }

  /** Every sweep, newest first. */
  listSweeps(): SweepInfo[] {
    return this.statements.allSweeps.all().map((row) => toSweepInfo(this.statements, row));
  }

  /**
   * Stores a trial attempt's result unless this attempt or a later one is stored already;
   * a later attempt replaces the earlier one with its predictions and artifacts.
   */
  reportResult(input: TrialResultInput): { stored: boolean } {
    const result = validateResult(input);
    const outcome = this.db
      .transaction((): { stored: false; reason: string } | { stored: true; sequence: number } => {
        if (!this.statements.sweep.get(result.namespace, result.sweep)) {
          throw new InvalidResultError(
            'result.sweep',
            `sweep ${JSON.stringify(result.sweep)} is not registered in namespace ${JSON.stringify(result.namespace)}`,
          );
        }
        const current = this.statements.currentAttempt.get(result.namespace, result.trial);
        if (current) {
          if (current.attempt === result.attempt) {
            checkSameResult(this.statements, result, this.metrics);
            return { stored: false, reason: 'duplicate' };
          }
          if (current.attempt > result.attempt) return { stored: false, reason: 'earlier_attempt' };
          checkSameTrial(current, result);
        }
        checkOneTrialPerSeed(this.statements, result, this.metrics);
        if (current) this.statements.deleteResult.run(current.id);
        return { stored: true, sequence: this.insertResult(result) };
      })
      .immediate();
    if (!outcome.stored) {
      this.metrics?.resultsIgnored.inc({ reason: outcome.reason });
      return { stored: false };
    }
    this.metrics?.resultsStored.inc();
    this.notify({
      type: 'result',
      namespace: result.namespace,
      sweep: result.sweep,
      trial: result.trial,
      sequence: outcome.sequence,
    });
    return { stored: true };
  }

  /**
   * Stores the points of a batch of metric events in one transaction; points already stored
   * (same trial, attempt, stage, kind, step and name) are skipped. Returns how many were new.
   */
  insertMetricEvents(events: readonly MetricEvent[]): number {
    validateMetricEvents(events);
    let received = 0;
    const store = this.db.transaction(() => {
      const latestByTrial = new Map<string, [string, string, string, number]>();
      let added = 0;
      let lastPointId = 0;
      for (const event of events) {
        for (const [name, value] of Object.entries(event.values)) {
          received += 1;
          const info = this.statements.insertPoint.run(
            this.seriesId(event, name),
            event.step,
            event.epoch,
            Number.isNaN(value) ? null : value,
            event.wallTimeMs,
          );
          if (info.changes === 0) continue;
          added += 1;
          lastPointId = Number(info.lastInsertRowid);
          latestByTrial.set(`${event.namespace}\0${event.sweep}\0${event.trial}`, [
            event.namespace,
            event.sweep,
            event.trial,
            lastPointId,
          ]);
        }
      }
      const sweeps = new Map<string, { namespace: string; sweep: string }>();
      for (const [namespace, sweep, trial, pointId] of latestByTrial.values()) {
        this.statements.touchCurveTrial.run(namespace, sweep, trial, pointId);
        sweeps.set(`${namespace}\0${sweep}`, { namespace, sweep });
      }
      return { added, lastPointId, sweeps: [...sweeps.values()] };
    });
    let outcome: ReturnType<typeof store>;
    try {
      outcome = store.immediate();
    } catch (error) {
      // Series ids cached during the rolled-back transaction may be reused for others.
      this.seriesIds.clear();
      throw error;
    }
    const { added, lastPointId, sweeps } = outcome;
    this.metrics?.metricPointsStored.inc(added);
    this.metrics?.metricPointsDuplicate.inc(received - added);
    if (added > 0) this.notify({ type: 'metrics', sweeps, lastPointId });
    return added;
  }

  listResults(request: ListResultsInput): ListResultsResponse {
    const query = buildListQuery(request, {
      limit: this.drivingFilterLimit,
      count: (filterSql, params) => {
        const sql = `SELECT count(*) AS count FROM (${filterSql} LIMIT ${this.drivingFilterLimit})`;
        return (this.listStatement(sql).get(params) as { count: number }).count;
      },
    });
    const rows = this.listStatement(query.pageSql).all(query.params) as Array<
      ResultRow & { sort_value: number | string }
    >;
    const page = rows.slice(0, query.pageSize);
    const last = page.at(-1);
    const nextPageToken =
      rows.length > query.pageSize && last
        ? encodeCursor(query.queryKey, last.sort_value, last.trial)
        : '';
    return {
      results: page.map((row) =>
        toResult(this.statements, row, request.includePredictions === true),
      ),
      nextPageToken,
      totalCount: this.totalCount(query.queryKey, query.countSql, query.params),
    };
  }

  /** The current result of a trial with its predictions and artifacts. */
  getResult(namespace: string, trial: string): TrialResult | undefined {
    const row = this.statements.resultByTrial.get(namespace, trial);
    return row ? toResult(this.statements, row, true) : undefined;
  }

  /**
   * Current results stored after `sequence`, oldest first, at most `limit` (default 500):
   * call again with the last one's sequence for more.
   */
  resultsSince(
    sequence: number,
    options: { namespace: string; sweep?: string; limit?: number },
  ): TrialResult[] {
    const namespace = requireName('namespace', options.namespace);
    const limit = requireInteger('limit', options.limit ?? 500, 1, 10_000);
    const rows = options.sweep
      ? this.statements.sweepResultsSince.all(namespace, options.sweep, sequence, limit)
      : this.statements.namespaceResultsSince.all(namespace, sequence, limit);
    return rows.map((row) => toResult(this.statements, row, false));
  }

  /** The latest sequence of a sweep's results (0 when it has none). */
  latestSequence(namespace: string, sweep: string): number {
    return this.statements.sweepLatestSequence.get(namespace, sweep)?.sequence ?? 0;
  }

  /** Each config's metrics over its seeds (../analysis/sweep-summary.ts). */
  getSweepSummary(request: SweepSummaryInput): SweepSummary {
    return this.summaries.get(request);
  }

  /** A paired comparison of two configs' predictions (../analysis/compare.ts). */
  compareConfigs(request: CompareConfigsInput): CompareConfigsResponse {
    return compareConfigs(this.statements, request);
  }

  /**
   * A trial's metric points after `sinceId` (all attempts), in the order they were stored,
   * at most `limit` (default 10,000).
   */
  metricCurve(options: {
    namespace: string;
    trial: string;
    names?: readonly string[];
    sinceId?: number;
    limit?: number;
  }): MetricPoint[] {
    const namespace = requireName('namespace', options.namespace);
    const trial = requireName('trial', options.trial);
    const limit = requireInteger('limit', options.limit ?? 10_000, 1, 100_000);
    const sinceId = options.sinceId ?? 0;
    const rows =
      options.names && options.names.length > 0
        ? options.names.flatMap((name) =>
            this.statements.trialPointsByName.all(namespace, trial, name, sinceId, limit),
          )
        : this.statements.trialPoints.all(namespace, trial, sinceId, limit);
    return rows
      .sort((x, y) => x.id - y.id)
      .slice(0, limit)
      .map(toPoint);
  }

  /** A sweep's metric points after `sinceId`, in the order they were stored, at most `limit`. */
  sweepPointsSince(options: {
    namespace: string;
    sweep: string;
    sinceId: number;
    limit?: number;
  }): MetricPoint[] {
    const limit = requireInteger('limit', options.limit ?? 10_000, 1, 100_000);
    return this.statements.sweepPoints
      .all(options.sinceId, options.namespace, options.sweep, limit)
      .map(toPoint);
  }

  /** The trials of a sweep that stored metric points most recently, latest first. */
  recentCurveTrials(options: { namespace: string; sweep: string; limit: number }): string[] {
    return this.statements.recentCurveTrials
      .all(options.namespace, options.sweep, options.limit)
      .map((row) => row.trial);
  }

  /** The id of the last metric point stored (0 when there is none). */
  lastPointId(): number {
    return this.statements.lastPointId.get()?.id ?? 0;
  }

  /** The id of an event's curve for one metric name, created on first use. */
  private seriesId(event: MetricEvent, name: string): number {
    const key = `${event.namespace}\0${event.trial}\0${event.attempt}\0${event.stage}\0${event.kind}\0${name}`;
    let id = this.seriesIds.get(key);
    if (id === undefined) {
      const parts = [
        event.namespace,
        event.trial,
        event.attempt,
        event.stage,
        event.kind,
        name,
      ] as const;
      this.statements.insertSeries.run(event.sweep, ...parts);
      id = (this.statements.seriesByKey.get(...parts) as { id: number }).id;
      if (this.seriesIds.size >= MAX_CACHED_SERIES) this.seriesIds.clear();
      this.seriesIds.set(key, id);
    }
    return id;
  }

  private insertResult(result: TrialResult): number {
    const sequence = this.statements.nextSequence.get()?.value as number;
    const metric = (name: Exclude<keyof typeof INDEXED_METRIC_COLUMNS, 'val_f1'>): number =>
      result.metrics[name] ?? Number.NEGATIVE_INFINITY;
    const { config } = result;
    const info = this.statements.insertResult.run({
      namespace: result.namespace,
      sweep: result.sweep,
      trial: result.trial,
      attempt: result.attempt,
      configKey: config.configKey,
      method: config.method,
      maskType: config.maskType,
      maskRatio: config.maskRatio,
      maskSize: config.maskSize,
      augmentation: config.augmentation,
      seed: config.seed,
      pretrainKey: config.pretrainKey,
      configJson: config.configJson,
      numClasses: result.confusionMatrix.numClasses,
      confusionCounts: JSON.stringify(result.confusionMatrix.counts),
      metricsJson: JSON.stringify(result.metrics),
      f1: metric('f1'),
      precision: metric('precision'),
      recall: metric('recall'),
      accuracy: metric('accuracy'),
      valMetricsJson: JSON.stringify(result.valMetrics),
      valF1: result.valMetrics.f1 ?? Number.NEGATIVE_INFINITY,
      gridsJson: JSON.stringify(config.grids),
      finishedAtMs: result.finishedAtMs,
      durationSeconds: result.durationSeconds,
      sequence,
    });
    const resultId = Number(info.lastInsertRowid);
    for (const prediction of result.predictions) {
      this.statements.insertPrediction.run(
        resultId,
        prediction.sampleId,
        prediction.label,
        prediction.predicted,
        float32Blob(prediction.probabilities),
      );
    }
    result.artifacts.forEach((artifact, position) => {
      this.statements.insertArtifact.run(
        resultId,
        position,
        artifact.name,
        artifact.uri,
        artifact.mediaType,
      );
    });
    return sequence;
  }

  private totalCount(queryKey: string, sql: string, params: Record<string, unknown>): number {
    const namespace = params.namespace as string;
    const sequence = this.statements.namespaceLatestSequence.get(namespace)?.sequence ?? 0;
    const cached = this.countCache.get(queryKey);
    if (cached?.sequence === sequence) return cached.count;
    const { count } = this.listStatement(sql).get(params) as { count: number };
    this.countCache.delete(queryKey);
    this.countCache.set(queryKey, { sequence, count });
    evictOldest(this.countCache, MAX_CACHED_QUERIES);
    return count;
  }

  private listStatement(sql: string): Database.Statement {
    let statement = this.listStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
      // Filters spell their paths into the SQL, so the shapes are as many as the paths.
      evictOldest(this.listStatements, MAX_CACHED_QUERIES);
    }
    return statement;
  }

  private notify(change: StoreChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        // The write is committed; a failing listener must not turn it into an error.
        process.emitWarning(`leaderboard store listener failed: ${String(error)}`);
      }
    }
  }
}

/** A later attempt belongs to the same sweep and config as the stored one. */
function checkSameTrial(current: { sweep: string; config_key: string }, result: TrialResult): void {
  if (current.sweep !== result.sweep) {
    throw new InvalidResultError(
      'result.sweep',
      `trial ${JSON.stringify(result.trial)} is stored in sweep ${JSON.stringify(current.sweep)}, attempt ${result.attempt} names ${JSON.stringify(result.sweep)}`,
    );
  }
  if (current.config_key !== result.config.configKey) {
    throw new InvalidResultError(
      'result.config.config_key',
      `trial ${JSON.stringify(result.trial)} is stored with config ${current.config_key}, attempt ${result.attempt} has ${result.config.configKey}`,
    );
  }
}
