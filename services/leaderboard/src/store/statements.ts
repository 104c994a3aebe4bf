/**
 * The store's SQL: every prepared statement, the rows they return, and the conversion of
 * rows back into messages. Persistence (store.ts) and analysis (../analysis) both read
 * through these.
 */
import type { Artifact, MetricKind, Prediction, Stage, TrialConfig } from '@masksweep/proto';
import type Database from 'better-sqlite3';
import { NotFoundError } from '../errors.js';
import type { MetricPoint, SweepInfo, TrialResult } from './types.js';

export interface ResultRow {
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
  /** Test metrics. */
  metrics_json: string;
  /** Validation metrics ({} for results stored before schema version 3). */
  val_metrics_json: string;
  /** The grids of the result's config, a JSON list of names. */
  grids_json: string;
  finished_at_ms: number;
  duration_seconds: number;
  sequence: number;
}

export interface PointRow {
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

export interface SweepRow {
  namespace: string;
  name: string;
  spec_json: string;
  trial_count: number;
  created_at_ms: number;
}

interface PredictionRow {
  sample_id: string;
  label: number;
  predicted: number;
  probabilities: Buffer;
}

/** A prediction with the seed and class count of its result, for paired comparisons. */
export interface ConfigPredictionRow {
  seed: number;
  num_classes: number;
  sample_id: string;
  label: number;
  predicted: number;
}

/**
 * [id, config_key, trial, seed, metrics_json, val_metrics_json, num_classes]: what a sweep
 * summary reads of each result.
 */
export type SeedResultRow = [number, string, string, number, string, string, number];

/** [result_id, sample_id, label, predicted]: a test prediction as a sweep summary reads it. */
export type SeedPredictionRow = [number, string, number, number];

const SEED_RESULT_COLUMNS =
  'id, config_key, trial, seed, metrics_json, val_metrics_json, num_classes';
/** Predictions in (config, seed, result, sample id) order, read along the config index. */
const SEED_PREDICTIONS = `SELECT p.result_id, p.sample_id, p.label, p.predicted
  FROM results r CROSS JOIN predictions p ON p.result_id = r.id
  WHERE r.namespace = ? AND r.sweep = ?`;

/** A point with its curve's fields (p: metric_points, s: metric_series). */
const POINT_COLUMNS =
  'p.id, s.sweep, s.trial, s.attempt, s.stage, s.kind, p.step, p.epoch, s.name, p.value, p.wall_time_ms';

/**
 * A prepared statement as the store uses it: better-sqlite3's own type cannot be named in
 * declaration files, which Statements needs.
 */
export interface Statement<P extends unknown[], R> {
  run(...params: P): Database.RunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
  iterate(...params: P): IterableIterator<R>;
}

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
  const prepare = <P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R> =>
    db.prepare<P, R>(sql);
  /** Rows as arrays of column values: cheaper for long scans. */
  const prepareRaw = <P extends unknown[], R extends unknown[]>(sql: string): Statement<P, R> =>
    db.prepare<P, R>(sql).raw();
  return {
    sweep: prepare<[string, string], SweepRow>(
      'SELECT * FROM sweeps WHERE namespace = ? AND name = ?',
    ),
    allSweeps: prepare<[], SweepRow>(
      'SELECT * FROM sweeps ORDER BY created_at_ms DESC, namespace, name',
    ),
    insertSweep: prepare(
      'INSERT INTO sweeps (namespace, name, spec_json, trial_count, created_at_ms) VALUES (?, ?, ?, ?, ?)',
    ),
    updateSweep: prepare(
      'UPDATE sweeps SET spec_json = ?, trial_count = ? WHERE namespace = ? AND name = ?',
    ),
    sweepResultCount: prepare<[string, string], { count: number }>(
      'SELECT count(*) AS count FROM results WHERE namespace = ? AND sweep = ?',
    ),
    currentAttempt: prepare<
      [string, string],
      { id: number; attempt: number; sweep: string; config_key: string }
    >('SELECT id, attempt, sweep, config_key FROM results WHERE namespace = ? AND trial = ?'),
    otherTrialOfSeed: prepare<[string, string, string, number, string], { trial: string }>(
      'SELECT trial FROM results WHERE namespace = ? AND sweep = ? AND config_key = ? AND seed = ? AND trial != ? LIMIT 1',
    ),
    deleteResult: prepare('DELETE FROM results WHERE id = ?'),
    nextSequence: prepare<[], { value: number }>(
      "UPDATE counters SET value = value + 1 WHERE name = 'result_sequence' RETURNING value",
    ),
    insertResult: prepare(`INSERT INTO results (
        namespace, sweep, trial, attempt, config_key, method, mask_type, mask_ratio, mask_size,
        augmentation, seed, pretrain_key, config_json, num_classes, confusion_counts, metrics_json,
        f1, precision, recall, accuracy, val_metrics_json, val_f1, grids_json, finished_at_ms,
        duration_seconds, sequence
      ) VALUES (
        @namespace, @sweep, @trial, @attempt, @configKey, @method, @maskType, @maskRatio, @maskSize,
        @augmentation, @seed, @pretrainKey, @configJson, @numClasses, @confusionCounts, @metricsJson,
        @f1, @precision, @recall, @accuracy, @valMetricsJson, @valF1, @gridsJson, @finishedAtMs,
        @durationSeconds, @sequence
      )`),
    insertPrediction: prepare(
      'INSERT INTO predictions (result_id, sample_id, label, predicted, probabilities) VALUES (?, ?, ?, ?, ?)',
    ),
    insertArtifact: prepare(
      'INSERT INTO artifacts (result_id, position, name, uri, media_type) VALUES (?, ?, ?, ?, ?)',
    ),
    resultByTrial: prepare<[string, string], ResultRow>(
      'SELECT * FROM results WHERE namespace = ? AND trial = ?',
    ),
    configOfTrial: prepare<[string, string], ConfigRow>(
      `SELECT ${CONFIG_COLUMNS} FROM results WHERE namespace = ? AND trial = ?`,
    ),
    // SQLite takes the bare columns from the row of min(seed): each config's lowest seed.
    sweepConfigs: prepare<[string, string], ConfigRow & { first_seed: number }>(
      `SELECT ${CONFIG_COLUMNS}, min(seed) AS first_seed FROM results
       WHERE namespace = ? AND sweep = ? GROUP BY config_key`,
    ),
    predictions: prepare<[number], PredictionRow>(
      'SELECT sample_id, label, predicted, probabilities FROM predictions WHERE result_id = ? ORDER BY sample_id',
    ),
    artifacts: prepare<[number], { name: string; uri: string; media_type: string }>(
      'SELECT name, uri, media_type FROM artifacts WHERE result_id = ? ORDER BY position',
    ),
    sweepResultsSince: prepare<[string, string, number, number], ResultRow>(
      'SELECT * FROM results WHERE namespace = ? AND sweep = ? AND sequence > ? ORDER BY sequence LIMIT ?',
    ),
    namespaceResultsSince: prepare<[string, number, number], ResultRow>(
      'SELECT * FROM results WHERE namespace = ? AND sequence > ? ORDER BY sequence LIMIT ?',
    ),
    sweepLatestSequence: prepare<[string, string], { sequence: number | null }>(
      'SELECT max(sequence) AS sequence FROM results WHERE namespace = ? AND sweep = ?',
    ),
    namespaceLatestSequence: prepare<[string], { sequence: number | null }>(
      'SELECT max(sequence) AS sequence FROM results WHERE namespace = ?',
    ),
    sweepSeedResults: prepareRaw<[string, string], SeedResultRow>(
      `SELECT ${SEED_RESULT_COLUMNS} FROM results WHERE namespace = ? AND sweep = ? ORDER BY config_key, seed, id`,
    ),
    configSeedResults: prepareRaw<[string, string, string], SeedResultRow>(
      `SELECT ${SEED_RESULT_COLUMNS} FROM results WHERE namespace = ? AND sweep = ? AND config_key = ? ORDER BY seed, id`,
    ),
    sweepSeedPredictions: prepareRaw<[string, string], SeedPredictionRow>(
      `${SEED_PREDICTIONS} ORDER BY r.config_key, r.seed, r.id, p.sample_id`,
    ),
    configSeedPredictions: prepareRaw<[string, string, string], SeedPredictionRow>(
      `${SEED_PREDICTIONS} AND r.config_key = ? ORDER BY r.seed, r.id, p.sample_id`,
    ),
    configKeysSince: prepare<[string, string, number], { config_key: string }>(
      'SELECT DISTINCT config_key FROM results WHERE namespace = ? AND sweep = ? AND sequence > ?',
    ),
    configExists: prepare<[string, string, string], { found: number }>(
      'SELECT 1 AS found FROM results WHERE namespace = ? AND sweep = ? AND config_key = ? LIMIT 1',
    ),
    configPredictions: prepare<[string, string, string], ConfigPredictionRow>(
      `SELECT r.seed, r.num_classes, p.sample_id, p.label, p.predicted
       FROM results r JOIN predictions p ON p.result_id = r.id
       WHERE r.namespace = ? AND r.sweep = ? AND r.config_key = ?
       ORDER BY r.seed, r.sequence, p.sample_id`,
    ),
    insertSeries: prepare(`INSERT OR IGNORE INTO metric_series
      (sweep, namespace, trial, attempt, stage, kind, name) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    seriesByKey: prepare<[string, string, number, number, number, string], { id: number }>(
      'SELECT id FROM metric_series WHERE namespace = ? AND trial = ? AND attempt = ? AND stage = ? AND kind = ? AND name = ?',
    ),
    insertPoint: prepare(`INSERT OR IGNORE INTO metric_points
      (series_id, step, epoch, value, wall_time_ms) VALUES (?, ?, ?, ?, ?)`),
    touchCurveTrial: prepare(`INSERT INTO curve_trials (namespace, sweep, trial, last_point_id)
      VALUES (?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET last_point_id = max(last_point_id, excluded.last_point_id)`),
    trialPoints: prepare<[string, string, number, number], PointRow>(
      `SELECT ${POINT_COLUMNS} FROM metric_series s JOIN metric_points p ON p.series_id = s.id
       WHERE s.namespace = ? AND s.trial = ? AND p.id > ? ORDER BY p.id LIMIT ?`,
    ),
    trialPointsByName: prepare<[string, string, string, number, number], PointRow>(
      `SELECT ${POINT_COLUMNS} FROM metric_series s JOIN metric_points p ON p.series_id = s.id
       WHERE s.namespace = ? AND s.trial = ? AND s.name = ? AND p.id > ? ORDER BY p.id LIMIT ?`,
    ),
    // CROSS JOIN keeps the points outside: live readers ask for the few points after a
    // recent id, which this reads in id order without sorting the sweep's curves.
    sweepPoints: prepare<[number, string, string, number], PointRow>(
      `SELECT ${POINT_COLUMNS} FROM metric_points p CROSS JOIN metric_series s ON s.id = p.series_id
       WHERE p.id > ? AND s.namespace = ? AND s.sweep = ? ORDER BY p.id LIMIT ?`,
    ),
    recentCurveTrials: prepare<[string, string, number], { trial: string }>(
      'SELECT trial FROM curve_trials WHERE namespace = ? AND sweep = ? ORDER BY last_point_id DESC LIMIT ?',
    ),
    lastPointId: prepare<[], { id: number | null }>('SELECT max(id) AS id FROM metric_points'),
  };
}

/** A result row as the message, its artifacts read too and its predictions when asked. */
export function toResult(
  statements: Statements,
  row: ResultRow,
  includePredictions: boolean,
): TrialResult {
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
    valMetrics: JSON.parse(row.val_metrics_json) as Record<string, number>,
    predictions: includePredictions ? statements.predictions.all(row.id).map(toPrediction) : [],
    artifacts: statements.artifacts.all(row.id).map(
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

/** The columns of a result that make its config. */
const CONFIG_COLUMNS =
  'config_key, method, mask_type, mask_ratio, mask_size, augmentation, seed, pretrain_key, config_json, grids_json';
export type ConfigRow = Pick<
  ResultRow,
  | 'config_key'
  | 'method'
  | 'mask_type'
  | 'mask_ratio'
  | 'mask_size'
  | 'augmentation'
  | 'seed'
  | 'pretrain_key'
  | 'config_json'
  | 'grids_json'
>;

export function toConfig(row: ConfigRow): TrialConfig {
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
    grids: JSON.parse(row.grids_json) as string[],
  };
}

function toPrediction(row: PredictionRow): Prediction {
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
export function float32Blob(values: readonly number[]): Buffer {
  const blob = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => {
    blob.writeFloatLE(value, index * 4);
  });
  return blob;
}

export function toPoint(row: PointRow): MetricPoint {
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

/** The sweep's row; NotFoundError when it is not registered. */
export function requireSweep(statements: Statements, namespace: string, sweep: string): SweepRow {
  const row = statements.sweep.get(namespace, sweep);
  if (!row) {
    throw new NotFoundError(
      'sweep',
      `no sweep ${JSON.stringify(sweep)} in namespace ${JSON.stringify(namespace)}`,
    );
  }
  return row;
}

export function toSweepInfo(statements: Statements, row: SweepRow): SweepInfo {
  return {
    namespace: row.namespace,
    sweep: row.name,
    specJson: row.spec_json,
    trialCount: row.trial_count,
    createdAtMs: row.created_at_ms,
    resultCount: statements.sweepResultCount.get(row.namespace, row.name)?.count ?? 0,
  };
}
