import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resultFixture } from './fixtures.test-support.js';
import { migrate, SCHEMA_VERSION, SchemaTooNewError, schemaVersion } from './schema.js';
import { openStore } from './store.js';

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-schema-'));
  path = join(dir, 'leaderboard.db');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('brings a new file to the latest version once; re-opening changes nothing', () => {
    openStore({ path }).close();
    const db = new Database(path);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    const recorded = db.prepare('SELECT version, applied_at_ms FROM schema_migrations').all();
    const tables = db.prepare('SELECT name FROM sqlite_schema ORDER BY name').all();
    expect(migrate(db)).toEqual([]);
    db.close();
    openStore({ path }).close();
    const again = new Database(path);
    expect(again.prepare('SELECT version, applied_at_ms FROM schema_migrations').all()).toEqual(
      recorded,
    );
    expect(again.prepare('SELECT name FROM sqlite_schema ORDER BY name').all()).toEqual(tables);
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
    again.close();
  });

  it('migrates a version 1 file forward, keeping its data', () => {
    const v1 = new Database(path);
    expect(migrate(v1, 1)).toEqual([1]);
    const series = v1.prepare(`INSERT INTO metric_series
      (namespace, sweep, trial, attempt, stage, kind, name)
      VALUES ('default', 'study', ?, 1, 2, 1, 'loss') RETURNING id`);
    const point =
      v1.prepare(`INSERT INTO metric_points (series_id, step, epoch, value, wall_time_ms)
      VALUES (?, ?, 0, 0.5, 0)`);
    const ids = Object.fromEntries(
      ['early', 'late', 'middle'].map((trial) => [trial, (series.get(trial) as { id: number }).id]),
    );
    point.run(ids.early, 0);
    point.run(ids.late, 0);
    point.run(ids.early, 1);
    point.run(ids.middle, 0);
    v1.close();

    const store = openStore({ path });
    // Version 2 derives each trial's latest point from the points already stored.
    expect(store.recentCurveTrials({ namespace: 'default', sweep: 'study', limit: 10 })).toEqual([
      'middle',
      'early',
      'late',
    ]);
    expect(store.metricCurve({ namespace: 'default', trial: 'early' }).map((p) => p.step)).toEqual([
      0, 1,
    ]);
    store.close();
    const db = new Database(path);
    expect(
      db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
    ).toEqual([1, 2, 3, 4]);
    db.close();
  });

  it('migrates a version 2 file forward: its results read back without validation metrics or grids, and rank last', () => {
    const old = new Database(path);
    expect(migrate(old, 2)).toEqual([1, 2]);
    old.prepare(`INSERT INTO sweeps VALUES ('default', 'study', '{}', 2, 0)`).run();
    old.prepare(`UPDATE counters SET value = 1 WHERE name = 'result_sequence'`).run();
    old
      .prepare(`INSERT INTO results (namespace, sweep, trial, attempt, config_key, method,
        mask_type, mask_ratio, mask_size, augmentation, seed, pretrain_key, config_json,
        num_classes, confusion_counts, metrics_json, f1, precision, recall, accuracy,
        finished_at_ms, duration_seconds, sequence)
        VALUES ('default', 'study', 'old', 1, 'cfg-a', 'spark', 'random', 0.6, 0, 'none', 0,
        'pt-a', '{}', 2, '[1,0,0,1]', '{"f1":0.99}', 0.99, 1, 1, 1, 0, 1, 1)`)
      .run();
    old.close();

    const store = openStore({ path });
    expect(store.getResult('default', 'old')).toMatchObject({
      metrics: { f1: 0.99 },
      valMetrics: {},
      config: { grids: [] },
    });
    store.reportResult(
      resultFixture({ trial: 'new', seed: 1, metrics: { f1: 0.5 }, valMetrics: { f1: 0.5 } }),
    );
    // The default ranking is by validation F1, which the old result does not have.
    expect(store.listResults({ namespace: 'default' }).results.map((r) => r.trial)).toEqual([
      'new',
      'old',
    ]);
    store.close();
  });

  it('refuses a file written by a newer leaderboard', () => {
    openStore({ path }).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)").run();
    db.close();
    expect(() => openStore({ path })).toThrow(SchemaTooNewError);
  });
});
