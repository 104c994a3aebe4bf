/**
 * The leaderboard's store: one SQLite file (WAL, synchronous=NORMAL), written and read
 * synchronously through better-sqlite3. Every write is one transaction and idempotent, so a
 * client may retry anything; listeners hear of each committed write.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  Artifact,
  CompareConfigsResponse,
  MetricEvent,
  MetricKind,
  Prediction,
  RegisterSweepRequest,
  Stage,
} from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  type MetricName,
  mcnemarExact,
  metricOf,
  pairedBootstrapDifference,
} from '@masksweep/stats';
import Database from 'better-sqlite3';
import { InvalidRequestError, InvalidResultError, NotFoundError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { buildListQuery, encodeCursor } from './list-query.js';
import { type INDEXED_METRIC_COLUMNS, migrate } from './schema.js';
import { groupConfig, type SeedResult, type SeedSummary, summarizeSeeds } from './summary.js';
import type {
  CompareConfigsInput,
  ConfigSummary,
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
  requireConfidence,
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
}

export type StoreListener = (change: StoreChange) => void;

interface ResultRow {
  id: number;
  namespace: string;
  sweep: string;
  trial: string;
  attempt: number;
  config_key: string;
  method: string;
  mask_type: string;
  mask_ratio: number;
  mask_size: number;
  augmentation: string;
  seed: number;
  pretrain_key: string;
  config_json: string;
  num_classes: number;
  confusion_counts: string;
  metrics_json: string;
  finished_at_ms: number;
  duration_seconds: number;
  sequence: number;
}

interface PointRow {
  id: number;
  sweep: string;
  trial: string;
  attempt: number;
  stage: Stage;
  kind: MetricKind;
  step: number;
  epoch: number;
  name: string;
  value: number | null;
  wall_time_ms: number;
}

interface CachedSummary {
  sequence: number;
  summary: SweepSummary;
}

/** Stats' metric names, by the names the proto and clients use. */
const COMPARABLE_METRICS: Record<string, MetricName> = {
  accuracy: 'accuracy',
  precision: 'precision',
  recall: 'recall',
  f1: 'f1',
  macro_precision: 'macroPrecision',
  macro_recall: 'macroRecall',
  macro_f1: 'macroF1',
  macroPrecision: 'macroPrecision',
  macroRecall: 'macroRecall',
  macroF1: 'macroF1',
};
const MAX_CACHED_QUERIES = 256;
const MAX_CACHED_SUMMARIES = 16;
const MAX_CACHED_SERIES = 200_000;
/** A point with its curve's fields (p: metric_points, s: metric_series). */
const POINT_COLUMNS =
  'p.id, s.sweep, s.trial, s.attempt, s.stage, s.kind, p.step, p.epoch, s.name, p.value, p.wall_time_ms';

export function openStore(options: StoreOptions): Store {
  return new Store(options);
}

export class Store {
  private readonly db: Database.Database;
  private readonly metrics: Metrics | undefined;
  private readonly listeners = new Set<StoreListener>();
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly listStatements = new Map<string, Database.Statement>();
  /** Total counts of listings, valid while the namespace's latest sequence is unchanged. */
  private readonly countCache = new Map<string, { sequence: number; count: number }>();
  private readonly summaryCache = new Map<string, CachedSummary>();
  /** Curve ids by (namespace, trial, attempt, stage, kind, name); rows are never deleted. */
  private readonly seriesIds = new Map<string, number>();

  constructor(options: StoreOptions) {
    mkdirSync(dirname(options.path), { recursive: true });
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
    this.statements = prepareStatements(this.db);
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

  getSweep(namespace: string, sweep: string): SweepInfo | undefined {
    const row = this.statements.sweep.get(namespace, sweep);
    return row ? this.sweepInfo(row) : undefined;
  }

  /** Every sweep, newest first. */
  listSweeps(): SweepInfo[] {
    return this.statements.allSweeps.all().map((row) => this.sweepInfo(row));
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
          if (current.attempt === result.attempt) return { stored: false, reason: 'duplicate' };
          if (current.attempt > result.attempt) return { stored: false, reason: 'earlier_attempt' };
          checkSameTrial(current, result);
          this.statements.deleteResult.run(current.id);
        }
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
    const query = buildListQuery(request);
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
      results: page.map((row) => this.toResult(row, request.includePredictions === true)),
      nextPageToken,
      totalCount: this.totalCount(query.queryKey, query.countSql, query.params),
    };
  }

  /** The current result of a trial with its predictions and artifacts. */
  getResult(namespace: string, trial: string): TrialResult | undefined {
    const row = this.statements.resultByTrial.get(namespace, trial);
    return row ? this.toResult(row, true) : undefined;
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
    return rows.map((row) => this.toResult(row, false));
  }

  /** The latest sequence of a sweep's results (0 when it has none). */
  latestSequence(namespace: string, sweep: string): number {
    return this.statements.sweepLatestSequence.get(namespace, sweep)?.sequence ?? 0;
  }

  getSweepSummary(request: SweepSummaryInput): SweepSummary {
    const namespace = requireName('namespace', request.namespace);
    const sweep = requireName('sweep', request.sweep);
    const confidence = requireConfidence('confidence', request.confidence);
    this.requireSweep(namespace, sweep);
    const sequence = this.latestSequence(namespace, sweep);
    const cacheKey = `${namespace}\0${sweep}\0${confidence}`;
    const cached = this.summaryCache.get(cacheKey);
    if (cached?.sequence === sequence) return cached.summary;

    // Only the configs with results stored since the cached summary are summarised again
    // (a later attempt keeps its trial's config key, so no other group can change). Rows
    // stream in (config, seed) order, each group summarised as soon as it is complete.
    const changedKeys = cached
      ? this.statements.configKeysSince
          .all(namespace, sweep, cached.sequence)
          .map((row) => row.config_key)
      : undefined;
    const rows = changedKeys
      ? changedKeys.flatMap((key) => this.statements.configSeedResults.all(namespace, sweep, key))
      : this.statements.sweepSeedResults.iterate(namespace, sweep);
    const summarized: Array<[string, SeedSummary]> = [];
    let groupKey: string | undefined;
    let members: SeedResult[] = [];
    const finishGroup = () => {
      if (groupKey !== undefined) summarized.push([groupKey, summarizeSeeds(members, confidence)]);
    };
    for (const [key, trial, seed, metricsJson] of rows) {
      if (key !== groupKey) {
        finishGroup();
        groupKey = key;
        members = [];
      }
      members.push({ trial, seed, metrics: JSON.parse(metricsJson) as Record<string, number> });
    }
    finishGroup();
    // A new array (the cached summary stays as callers got it), kept in config key order.
    const configs = cached ? cached.summary.configs.slice() : [];
    for (const [key, seeds] of summarized) {
      const first = this.statements.resultByTrial.get(namespace, seeds.trials[0] as string);
      const updated = { config: groupConfig(toConfig(first as ResultRow)), ...seeds };
      const index = configIndex(configs, key);
      if (configs[index]?.config.configKey === key) configs[index] = updated;
      else configs.splice(index, 0, updated);
    }
    const summary: SweepSummary = {
      namespace,
      sweep,
      resultCount: configs.reduce((sum, config) => sum + config.seeds.length, 0),
      configs,
    };
    this.summaryCache.delete(cacheKey);
    this.summaryCache.set(cacheKey, { sequence, summary });
    evictOldest(this.summaryCache, MAX_CACHED_SUMMARIES);
    return summary;
  }

  /**
   * The two configs' predictions paired by (seed, sample id): the paired-bootstrap interval
   * of metric(A) − metric(B) and McNemar's exact test.
   */
  compareConfigs(request: CompareConfigsInput): CompareConfigsResponse {
    const namespace = requireName('namespace', request.namespace);
    const sweep = requireName('sweep', request.sweep);
    const keyA = requireName('config_key_a', request.configKeyA);
    const keyB = requireName('config_key_b', request.configKeyB);
    const metricKey = request.metric || 'f1';
    if (!Object.hasOwn(COMPARABLE_METRICS, metricKey)) {
      throw new InvalidRequestError(
        'metric',
        `must be one of ${Object.keys(COMPARABLE_METRICS).join(', ')}, got ${JSON.stringify(metricKey)}`,
      );
    }
    const metricName = COMPARABLE_METRICS[metricKey] as MetricName;
    const resamples = requireInteger('resamples', request.resamples || 2000, 1, 100_000);
    const confidence = requireConfidence('confidence', request.confidence);
    const seed = requireInteger('seed', request.seed ?? 0, 0, 2 ** 32 - 1);
    this.requireSweep(namespace, sweep);

    const a = this.configPredictions(namespace, sweep, keyA, 'config_key_a');
    const b = this.configPredictions(namespace, sweep, keyB, 'config_key_b');
    if (a.numClasses !== b.numClasses) {
      throw new InvalidRequestError(
        'config_key_b',
        `config ${keyB} has ${b.numClasses} classes, config ${keyA} has ${a.numClasses}`,
      );
    }
    const labels: number[] = [];
    const predictionsA: number[] = [];
    const predictionsB: number[] = [];
    for (const [pairKey, fromA] of a.bySeedAndSample) {
      const fromB = b.bySeedAndSample.get(pairKey);
      if (fromB === undefined) continue;
      if (fromA.label !== fromB.label) {
        throw new InvalidRequestError(
          'config_key_b',
          `sample ${JSON.stringify(fromA.sampleId)} (seed ${fromA.seed}) has label ${fromA.label} in config ${keyA} and ${fromB.label} in config ${keyB}`,
        );
      }
      labels.push(fromA.label);
      predictionsA.push(fromA.predicted);
      predictionsB.push(fromB.predicted);
    }
    if (labels.length === 0) {
      throw new InvalidRequestError(
        'config_key_b',
        `configs ${keyA} and ${keyB} have no predicted sample (seed, sample id) in common`,
      );
    }
    const interval = pairedBootstrapDifference(
      labels,
      predictionsA,
      predictionsB,
      metricOf(metricName, { numClasses: a.numClasses }),
      { resamples, confidence, rng: new Random(seed) },
    );
    const mcnemar = mcnemarExact(labels, predictionsA, predictionsB);
    return {
      pairedSamples: labels.length,
      difference: interval.estimate,
      ciLow: interval.low,
      ciHigh: interval.high,
      onlyACorrect: mcnemar.b,
      onlyBCorrect: mcnemar.c,
      mcnemarPValue: mcnemar.pValue,
    };
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
    const metric = (name: keyof typeof INDEXED_METRIC_COLUMNS): number =>
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

  private toResult(row: ResultRow, includePredictions: boolean): TrialResult {
    return {
      namespace: row.namespace,
      sweep: row.sweep,
      trial: row.trial,
      attempt: row.attempt,
      config: toConfig(row),
      confusionMatrix: {
        numClasses: row.num_classes,
        counts: JSON.parse(row.confusion_counts) as number[],
      },
      metrics: JSON.parse(row.metrics_json) as Record<string, number>,
      predictions: includePredictions
        ? this.statements.predictions.all(row.id).map(toPrediction)
        : [],
      artifacts: this.statements.artifacts.all(row.id).map(
        (artifact): Artifact => ({
          name: artifact.name,
          uri: artifact.uri,
          mediaType: artifact.media_type,
        }),
      ),
      finishedAtMs: row.finished_at_ms,
      durationSeconds: row.duration_seconds,
      sequence: row.sequence,
    };
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

  private configPredictions(namespace: string, sweep: string, configKey: string, field: string) {
    const rows = this.statements.configPredictions.all(namespace, sweep, configKey);
    if (rows.length === 0 && !this.statements.configExists.get(namespace, sweep, configKey)) {
      throw new NotFoundError(
        field,
        `no results of config ${JSON.stringify(configKey)} in sweep ${JSON.stringify(sweep)}`,
      );
    }
    // Each (seed, sample) once: a trial name is unique per (config, seed), so a second
    // trial with the same seed would be an inconsistent report; the one stored last wins.
    const bySeedAndSample = new Map<
      string,
      { seed: number; sampleId: string; label: number; predicted: number }
    >();
    let numClasses = rows[0]?.num_classes ?? 2;
    for (const row of rows) {
      numClasses = row.num_classes;
      bySeedAndSample.set(`${row.seed}\0${row.sample_id}`, {
        seed: row.seed,
        sampleId: row.sample_id,
        label: row.label,
        predicted: row.predicted,
      });
    }
    return { bySeedAndSample, numClasses };
  }

  private requireSweep(namespace: string, sweep: string): void {
    if (!this.statements.sweep.get(namespace, sweep)) {
      throw new NotFoundError(
        'sweep',
        `no sweep ${JSON.stringify(sweep)} in namespace ${JSON.stringify(namespace)}`,
      );
    }
  }

  private sweepInfo(row: SweepRow): SweepInfo {
    return {
      namespace: row.namespace,
      sweep: row.name,
      specJson: row.spec_json,
      trialCount: row.trial_count,
      createdAtMs: row.created_at_ms,
      resultCount: this.statements.sweepResultCount.get(row.namespace, row.name)?.count ?? 0,
    };
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

interface SweepRow {
  namespace: string;
  name: string;
  spec_json: string;
  trial_count: number;
  created_at_ms: number;
}

function prepareStatements(db: Database.Database) {
  return {
    sweep: db.prepare<[string, string], SweepRow>(
      'SELECT * FROM sweeps WHERE namespace = ? AND name = ?',
    ),
    allSweeps: db.prepare<[], SweepRow>(
      'SELECT * FROM sweeps ORDER BY created_at_ms DESC, namespace, name',
    ),
    insertSweep: db.prepare(
      'INSERT INTO sweeps (namespace, name, spec_json, trial_count, created_at_ms) VALUES (?, ?, ?, ?, ?)',
    ),
    updateSweep: db.prepare(
      'UPDATE sweeps SET spec_json = ?, trial_count = ? WHERE namespace = ? AND name = ?',
    ),
    sweepResultCount: db.prepare<[string, string], { count: number }>(
      'SELECT count(*) AS count FROM results WHERE namespace = ? AND sweep = ?',
    ),
    currentAttempt: db.prepare<
      [string, string],
      { id: number; attempt: number; sweep: string; config_key: string }
    >('SELECT id, attempt, sweep, config_key FROM results WHERE namespace = ? AND trial = ?'),
    deleteResult: db.prepare('DELETE FROM results WHERE id = ?'),
    nextSequence: db.prepare<[], { value: number }>(
      "UPDATE counters SET value = value + 1 WHERE name = 'result_sequence' RETURNING value",
    ),
    insertResult: db.prepare(`INSERT INTO results (
        namespace, sweep, trial, attempt, config_key, method, mask_type, mask_ratio, mask_size,
        augmentation, seed, pretrain_key, config_json, num_classes, confusion_counts, metrics_json,
        f1, precision, recall, accuracy, finished_at_ms, duration_seconds, sequence
      ) VALUES (
        @namespace, @sweep, @trial, @attempt, @configKey, @method, @maskType, @maskRatio, @maskSize,
        @augmentation, @seed, @pretrainKey, @configJson, @numClasses, @confusionCounts, @metricsJson,
        @f1, @precision, @recall, @accuracy, @finishedAtMs, @durationSeconds, @sequence
      )`),
    insertPrediction: db.prepare(
      'INSERT INTO predictions (result_id, sample_id, label, predicted, probabilities) VALUES (?, ?, ?, ?, ?)',
    ),
    insertArtifact: db.prepare(
      'INSERT INTO artifacts (result_id, position, name, uri, media_type) VALUES (?, ?, ?, ?, ?)',
    ),
    resultByTrial: db.prepare<[string, string], ResultRow>(
      'SELECT * FROM results WHERE namespace = ? AND trial = ?',
    ),
    predictions: db.prepare<
      [number],
      { sample_id: string; label: number; predicted: number; probabilities: Buffer }
    >(
      'SELECT sample_id, label, predicted, probabilities FROM predictions WHERE result_id = ? ORDER BY sample_id',
    ),
    artifacts: db.prepare<[number], { name: string; uri: string; media_type: string }>(
      'SELECT name, uri, media_type FROM artifacts WHERE result_id = ? ORDER BY position',
    ),
    sweepResultsSince: db.prepare<[string, string, number, number], ResultRow>(
      'SELECT * FROM results WHERE namespace = ? AND sweep = ? AND sequence > ? ORDER BY sequence LIMIT ?',
    ),
    namespaceResultsSince: db.prepare<[string, number, number], ResultRow>(
      'SELECT * FROM results WHERE namespace = ? AND sequence > ? ORDER BY sequence LIMIT ?',
    ),
    sweepLatestSequence: db.prepare<[string, string], { sequence: number | null }>(
      'SELECT max(sequence) AS sequence FROM results WHERE namespace = ? AND sweep = ?',
    ),
    namespaceLatestSequence: db.prepare<[string], { sequence: number | null }>(
      'SELECT max(sequence) AS sequence FROM results WHERE namespace = ?',
    ),
    // [config_key, trial, seed, metrics_json] rows, the summary's input.
    sweepSeedResults: db
      .prepare<[string, string], [string, string, number, string]>(
        'SELECT config_key, trial, seed, metrics_json FROM results WHERE namespace = ? AND sweep = ? ORDER BY config_key, seed',
      )
      .raw(),
    configSeedResults: db
      .prepare<[string, string, string], [string, string, number, string]>(
        'SELECT config_key, trial, seed, metrics_json FROM results WHERE namespace = ? AND sweep = ? AND config_key = ? ORDER BY seed',
      )
      .raw(),
    configKeysSince: db.prepare<[string, string, number], { config_key: string }>(
      'SELECT DISTINCT config_key FROM results WHERE namespace = ? AND sweep = ? AND sequence > ?',
    ),
    configExists: db.prepare<[string, string, string], { found: number }>(
      'SELECT 1 AS found FROM results WHERE namespace = ? AND sweep = ? AND config_key = ? LIMIT 1',
    ),
    configPredictions: db.prepare<
      [string, string, string],
      { seed: number; num_classes: number; sample_id: string; label: number; predicted: number }
    >(`SELECT r.seed, r.num_classes, p.sample_id, p.label, p.predicted
       FROM results r JOIN predictions p ON p.result_id = r.id
       WHERE r.namespace = ? AND r.sweep = ? AND r.config_key = ?
       ORDER BY r.seed, r.sequence, p.sample_id`),
    insertSeries: db.prepare(`INSERT OR IGNORE INTO metric_series
      (sweep, namespace, trial, attempt, stage, kind, name) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    seriesByKey: db.prepare<[string, string, number, number, number, string], { id: number }>(
      'SELECT id FROM metric_series WHERE namespace = ? AND trial = ? AND attempt = ? AND stage = ? AND kind = ? AND name = ?',
    ),
    insertPoint: db.prepare(`INSERT OR IGNORE INTO metric_points
      (series_id, step, epoch, value, wall_time_ms) VALUES (?, ?, ?, ?, ?)`),
    touchCurveTrial: db.prepare(`INSERT INTO curve_trials (namespace, sweep, trial, last_point_id)
      VALUES (?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET last_point_id = max(last_point_id, excluded.last_point_id)`),
    trialPoints: db.prepare<[string, string, number, number], PointRow>(
      `SELECT ${POINT_COLUMNS} FROM metric_series s JOIN metric_points p ON p.series_id = s.id
       WHERE s.namespace = ? AND s.trial = ? AND p.id > ? ORDER BY p.id LIMIT ?`,
    ),
    trialPointsByName: db.prepare<[string, string, string, number, number], PointRow>(
      `SELECT ${POINT_COLUMNS} FROM metric_series s JOIN metric_points p ON p.series_id = s.id
       WHERE s.namespace = ? AND s.trial = ? AND s.name = ? AND p.id > ? ORDER BY p.id LIMIT ?`,
    ),
    // CROSS JOIN keeps the points outside: live readers ask for the few points after a
    // recent id, which this reads in id order without sorting the sweep's curves.
    sweepPoints: db.prepare<[number, string, string, number], PointRow>(
      `SELECT ${POINT_COLUMNS} FROM metric_points p CROSS JOIN metric_series s ON s.id = p.series_id
       WHERE p.id > ? AND s.namespace = ? AND s.sweep = ? ORDER BY p.id LIMIT ?`,
    ),
    recentCurveTrials: db.prepare<[string, string, number], { trial: string }>(
      'SELECT trial FROM curve_trials WHERE namespace = ? AND sweep = ? ORDER BY last_point_id DESC LIMIT ?',
    ),
    lastPointId: db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM metric_points'),
  };
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

function toConfig(row: ResultRow) {
  return {
    configKey: row.config_key,
    method: row.method,
    maskType: row.mask_type,
    maskRatio: row.mask_ratio,
    maskSize: row.mask_size,
    augmentation: row.augmentation,
    seed: row.seed,
    pretrainKey: row.pretrain_key,
    configJson: row.config_json,
  };
}

function toPrediction(row: {
  sample_id: string;
  label: number;
  predicted: number;
  probabilities: Buffer;
}): Prediction {
  const probabilities: number[] = [];
  for (let offset = 0; offset < row.probabilities.length; offset += 4) {
    probabilities.push(row.probabilities.readFloatLE(offset));
  }
  return {
    sampleId: row.sample_id,
    label: row.label,
    predicted: row.predicted,
    probabilities,
  };
}

/** Class probabilities as float32 little-endian, as the proto carries them. */
function float32Blob(values: readonly number[]): Buffer {
  const blob = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => {
    blob.writeFloatLE(value, index * 4);
  });
  return blob;
}

function toPoint(row: PointRow): MetricPoint {
  return {
    id: row.id,
    sweep: row.sweep,
    trial: row.trial,
    attempt: row.attempt,
    stage: row.stage,
    kind: row.kind,
    step: row.step,
    epoch: row.epoch,
    name: row.name,
    value: row.value ?? Number.NaN,
    wallTimeMs: row.wall_time_ms,
  };
}

/** Where `key` is, or belongs, in configs sorted by config key (binary search). */
function configIndex(configs: readonly ConfigSummary[], key: string): number {
  let low = 0;
  let high = configs.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((configs[middle] as ConfigSummary).config.configKey < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Keeps a Map used as an LRU (re-inserted on use) at `capacity` entries. */
function evictOldest<K, V>(map: Map<K, V>, capacity: number): void {
  while (map.size > capacity) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}
