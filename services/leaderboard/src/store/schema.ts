/**
 * The store's schema as numbered migrations. Each runs once, in its own transaction, and is
 * recorded in schema_migrations, so opening a file of any earlier version brings it forward
 * and opening a current one changes nothing.
 */
import { metricName, validationMetricName } from '@masksweep/api/contracts';
import { METRIC_NAMES } from '@masksweep/stats';
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
 * Config paths that listResults filtered on through expression indexes until version 4,
 * whose result_values serves every path (the indexes are dropped there).
 */
const VERSION_1_CONFIG_PATHS = [
  'method',
  'mask.type',
  'mask.ratio',
  'mask.size',
  'augmentation.type',
];
const configIndexName = (path: string) => `results_by_sweep_config_${path.replace('.', '_')}`;

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
  ...VERSION_1_CONFIG_PATHS.map(
    (path) =>
      `CREATE INDEX ${configIndexName(path)} ON results (namespace, sweep, (config_json -> '$.${path}'));`,
  ),
].join('\n');

/**
 * The metrics every result has a row of in result_values (-Infinity when it lacks one, so
 * it ranks lowest as in the metric columns): the scored test metrics by name (`macro_f1`)
 * and their validation values (`val_macro_f1`). The names are the listing's sort names.
 */
export const VALUE_METRIC_NAMES: readonly string[] = [
  ...METRIC_NAMES.map(metricName),
  ...METRIC_NAMES.map(validationMetricName),
];

/** The result_values field of a config path: `config.` and the path (`config.finetune.lr`). */
export const CONFIG_FIELD_PREFIX = 'config.';

/**
 * The result_values rows of the results row `row` (an alias, NEW or OLD), as a SELECT of
 * (namespace, sweep, field, value, trial); `from` names the results table when `row` is an
 * alias of it. Each config leaf reached by plain keys (not inside an array) is a row:
 * numbers and strings as themselves, true, false and null as that text, an array as its
 * JSON text; objects are not rows. valueExpression reads the same values from a results
 * row, and must agree with this.
 */
export function resultValueRows(row: string, from = ''): string {
  const metrics = (column: string, prefix: string) => `
    SELECT ${row}.namespace, ${row}.sweep, '${prefix}' || n.value,
      coalesce(${row}.${column} ->> ('$."' || n.value || '"'), -9e999), ${row}.trial
    FROM ${from} json_each('${JSON.stringify(METRIC_NAMES.map(metricName))}') n`;
  return `
    SELECT ${row}.namespace, ${row}.sweep, '${CONFIG_FIELD_PREFIX}' || substr(t.fullkey, 3),
      CASE t.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null'
        ELSE t.value END,
      ${row}.trial
    FROM ${from} json_tree(${row}.config_json) t
    WHERE t.type != 'object' AND instr(t.fullkey, '[') = 0 AND instr(t.fullkey, '"') = 0
    UNION ALL ${metrics('metrics_json', '')}
    UNION ALL ${metrics('val_metrics_json', 'val_')}`;
}

/**
 * A result_values field's value read from the results row `r`, as resultValueRows stores
 * it (NULL when the config lacks the path). `field` must be checked before: it is spelled
 * into the SQL.
 */
export function valueExpression(field: string): string {
  if (field.startsWith(CONFIG_FIELD_PREFIX)) {
    const path = `'$.${field.slice(CONFIG_FIELD_PREFIX.length)}'`;
    return `(CASE json_type(r.config_json, ${path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
      WHEN 'null' THEN 'null' WHEN 'object' THEN NULL ELSE r.config_json ->> ${path} END)`;
  }
  const validated = field.startsWith('val_');
  const column = validated ? 'val_metrics_json' : 'metrics_json';
  const name = validated ? field.slice('val_'.length) : field;
  return `coalesce(r.${column} ->> '$."${name}"', -9e999)`;
}

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
  {
    version: 4,
    description:
      'result_values: each config leaf and scored metric of a result, indexed by sweep, field and value, for filters and sorts on any of them (the config expression indexes dropped)',
    sql: `
      -- The value column has no type: numbers and text keep their own (numbers sort first).
      CREATE TABLE result_values (
        namespace TEXT NOT NULL,
        sweep TEXT NOT NULL,
        field TEXT NOT NULL,
        value NOT NULL,
        trial TEXT NOT NULL,
        PRIMARY KEY (namespace, sweep, field, value, trial)
      ) WITHOUT ROWID;
      CREATE TRIGGER results_values_insert AFTER INSERT ON results BEGIN
        INSERT INTO result_values (namespace, sweep, field, value, trial) ${resultValueRows('NEW')};
      END;
      -- A later attempt replaces its result row: its values go with it, found by their key.
      CREATE TRIGGER results_values_delete AFTER DELETE ON results BEGIN
        DELETE FROM result_values WHERE (namespace, sweep, field, value, trial) IN (${resultValueRows('OLD')});
      END;
      ${VERSION_1_CONFIG_PATHS.map((path) => `DROP INDEX ${configIndexName(path)};`).join('\n')}
      INSERT INTO result_values (namespace, sweep, field, value, trial)
        SELECT * FROM (${resultValueRows('r', 'results r,')}) ORDER BY 1, 2, 3, 4, 5;
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
