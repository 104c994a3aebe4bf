/**
 * The store's schema as numbered migrations. Each runs once, in its own transaction, and is
 * recorded in schema_migrations, so opening a file of any earlier version brings it forward
 * and opening a current one changes nothing.
 */
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * The columns listResults can sort by through an index, by sort name: test F1, precision,
 * recall and accuracy, and validation F1 (`val_f1`, the default ranking).
 */
export const INDEXED_METRIC_COLUMNS = {
  f1: 'f1',
  precision: 'precision',
  recall: 'recall',
  accuracy: 'accuracy',
  val_f1: 'val_f1',
} as const;

/**
 * Config paths that listResults filters on through an index. The filter's SQL must spell the
 * expression exactly as here (config_json -> '$.<path>') for SQLite to use it.
 */
export const INDEXED_CONFIG_PATHS = [
  'method',
  'mask.type',
  'mask.ratio',
  'mask.size',
  'augmentation.type',
] as const;

export function configPathExpression(path: string): string {
  return `(config_json -> '$.${path}')`;
}

// Every sort key is indexed within a sweep; across a namespace only test F1, validation F1
// (version 3, the default sort) and recency are, as each index costs every result write a
// few pages.
const sortIndexes = [
  ...['f1', 'precision', 'recall', 'accuracy', 'finished_at_ms'].map(
    (column) =>
      `CREATE INDEX results_by_sweep_${column} ON results (namespace, sweep, ${column}, trial);`,
  ),
  ...['f1', 'finished_at_ms'].map(
    (column) =>
      `CREATE INDEX results_by_namespace_${column} ON results (namespace, ${column}, trial);`,
  ),
  ...INDEXED_CONFIG_PATHS.map(
    (path) =>
      `CREATE INDEX results_by_sweep_config_${path.replace('.', '_')} ON results (namespace, sweep, ${configPathExpression(path)});`,
  ),
].join('\n');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'sweeps, results with predictions and artifacts, metric points',
    sql: `
      CREATE TABLE sweeps (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        trial_count INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, name)
      ) WITHOUT ROWID;

      -- Store-wide counters; result_sequence orders results for watchers.
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO counters (name, value) VALUES ('result_sequence', 0);

      -- The current result of each trial: the highest attempt reported.
      CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        namespace TEXT NOT NULL,
        sweep TEXT NOT NULL,
        trial TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        config_key TEXT NOT NULL,
        method TEXT NOT NULL,
        mask_type TEXT NOT NULL,
        mask_ratio REAL NOT NULL,
        mask_size INTEGER NOT NULL,
        augmentation TEXT NOT NULL,
        seed INTEGER NOT NULL,
        pretrain_key TEXT NOT NULL,
        config_json TEXT NOT NULL,
        num_classes INTEGER NOT NULL,
        confusion_counts TEXT NOT NULL,
        metrics_json TEXT NOT NULL,
        -- The main metrics again, for indexed sorting; -Infinity when the result lacks one.
        f1 REAL NOT NULL,
        precision REAL NOT NULL,
        recall REAL NOT NULL,
        accuracy REAL NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        duration_seconds REAL NOT NULL,
        sequence INTEGER NOT NULL UNIQUE,
        UNIQUE (namespace, trial)
      );
      CREATE INDEX results_by_sweep_trial ON results (namespace, sweep, trial);
      CREATE INDEX results_by_sweep_sequence ON results (namespace, sweep, sequence);
      CREATE INDEX results_by_namespace_sequence ON results (namespace, sequence);
      CREATE INDEX results_by_sweep_config ON results (namespace, sweep, config_key, seed);
      ${sortIndexes}

      CREATE TABLE predictions (
        result_id INTEGER NOT NULL REFERENCES results (id) ON DELETE CASCADE,
        sample_id TEXT NOT NULL,
        label INTEGER NOT NULL,
        predicted INTEGER NOT NULL,
        -- Float32 class probabilities, little-endian.
        probabilities BLOB NOT NULL,
        PRIMARY KEY (result_id, sample_id)
      ) WITHOUT ROWID;

      CREATE TABLE artifacts (
        result_id INTEGER NOT NULL REFERENCES results (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        uri TEXT NOT NULL,
        media_type TEXT NOT NULL,
        PRIMARY KEY (result_id, position)
      ) WITHOUT ROWID;

      -- A curve: one metric of one trial attempt's stage and kind. Points refer to it by id,
      -- which keeps the per-point indexes small (the insert rate depends on it).
      CREATE TABLE metric_series (
        id INTEGER PRIMARY KEY,
        namespace TEXT NOT NULL,
        sweep TEXT NOT NULL,
        trial TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        stage INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (namespace, trial, attempt, stage, kind, name)
      );
      CREATE INDEX metric_series_by_sweep ON metric_series (namespace, sweep, name);

      -- UNIQUE (series_id, step) is events.proto's de-duplication id plus the metric name.
      CREATE TABLE metric_points (
        id INTEGER PRIMARY KEY,
        series_id INTEGER NOT NULL REFERENCES metric_series (id),
        step INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        -- NULL stands for NaN, which SQLite cannot store.
        value REAL,
        wall_time_ms INTEGER NOT NULL,
        UNIQUE (series_id, step)
      );
    `,
  },
  {
    version: 2,
    description: 'the trials of a sweep by their latest metric point, for live curves',
    sql: `
      CREATE TABLE curve_trials (
        namespace TEXT NOT NULL,
        sweep TEXT NOT NULL,
        trial TEXT NOT NULL,
        last_point_id INTEGER NOT NULL,
        PRIMARY KEY (namespace, sweep, trial)
      ) WITHOUT ROWID;
      CREATE INDEX curve_trials_by_activity ON curve_trials (namespace, sweep, last_point_id);
      INSERT INTO curve_trials (namespace, sweep, trial, last_point_id)
        SELECT s.namespace, s.sweep, s.trial, max(p.id)
        FROM metric_points p JOIN metric_series s ON s.id = p.series_id
        GROUP BY s.namespace, s.sweep, s.trial;
    `,
  },
  {
    version: 3,
    description:
      'validation metrics of each result (val_f1 indexed: the default ranking) and the grids it belongs to',
    sql: `
      -- Results stored before have no validation metrics ({}, val_f1 -Infinity: they rank
      -- last) and no grids ([]).
      ALTER TABLE results ADD COLUMN val_metrics_json TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE results ADD COLUMN val_f1 REAL NOT NULL DEFAULT -9e999;
      ALTER TABLE results ADD COLUMN grids_json TEXT NOT NULL DEFAULT '[]';
      CREATE INDEX results_by_sweep_val_f1 ON results (namespace, sweep, val_f1, trial);
      CREATE INDEX results_by_namespace_val_f1 ON results (namespace, val_f1, trial);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** A store file written by a newer leaderboard than this one. */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';
}

/**
 * Applies the migrations after the file's version up to `targetVersion`, each in one
 * immediate transaction (so two processes opening one file do not both apply it).
 * Returns the versions applied.
 */
export function migrate(db: Database, targetVersion = SCHEMA_VERSION): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at_ms INTEGER NOT NULL
  )`);
  const currentVersion = db.prepare<[], { version: number | null }>(
    'SELECT max(version) AS version FROM schema_migrations',
  );
  const record = db.prepare(
    'INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES (?, ?, ?)',
  );
  const applied: number[] = [];
  for (const migration of MIGRATIONS.filter((m) => m.version <= targetVersion)) {
    db.transaction(() => {
      const version = currentVersion.get()?.version ?? 0;
      if (version > SCHEMA_VERSION) {
        throw new SchemaTooNewError(
          `the store file has schema version ${version}; this leaderboard knows up to ${SCHEMA_VERSION}`,
        );
      }
      if (version >= migration.version) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.description, Date.now());
      applied.push(migration.version);
    }).immediate();
  }
  return applied;
}

/** The file's schema version (0 for a new file). */
export function schemaVersion(db: Database): number {
  return (
    db
      .prepare<[], { version: number | null }>(
        'SELECT max(version) AS version FROM schema_migrations',
      )
      .get()?.version ?? 0
  );
}
