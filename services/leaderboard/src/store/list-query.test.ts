import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@masksweep/random';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resultFixture } from './fixtures.test-support.js';
import { migrate } from './schema.js';
import { openStore, type Store } from './store.js';
import { refusal } from './store.test-support.js';
import type { ListResultsInput, TrialResult } from './types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-list-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A store with sweep default/study; drivingFilterLimit 1 reads every page along the sort. */
function storeWith(drivingFilterLimit?: number): Store {
  const store = openStore({ path: join(dir, `s${drivingFilterLimit}.db`), drivingFilterLimit });
  store.registerSweep({ namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 99 });
  return store;
}

/** Every result of a listing, page after page. */
function allPages(
  store: Store,
  request: Omit<ListResultsInput, 'namespace'>,
  pageSize = 3,
): TrialResult[] {
  const results: TrialResult[] = [];
  let pageToken = '';
  do {
    const page = store.listResults({ namespace: 'default', ...request, pageSize, pageToken });
    results.push(...page.results);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return results;
}

/** Twelve results: lr, mask ratio and metrics drawn from a seeded generator, some missing. */
function fill(store: Store): void {
  const rng = new Random(7);
  for (let i = 0; i < 12; i++) {
    const macro: Record<string, number> =
      i % 4 === 3 ? {} : { macro_f1: Math.round(rng.float() * 100) / 100 };
    store.reportResult(
      resultFixture({
        trial: `t${String(i).padStart(2, '0')}`,
        seed: i,
        maskType: i % 5 === 4 ? '' : 'random',
        maskRatio: [0.5, 0.6, 0.7][i % 3],
        learningRate: [0.0001, 0.0003, 0.001, 0.003][i % 4],
        metrics: { f1: Math.round(rng.float() * 100) / 100, ...macro },
        valMetrics: { f1: Math.round(rng.float() * 100) / 100 },
      }),
    );
  }
}

const lr = (r: TrialResult) =>
  (JSON.parse(r.config.configJson) as { finetune: { lr: number } }).finetune.lr;
const macro = (r: TrialResult) => r.metrics.macro_f1 ?? Number.NEGATIVE_INFINITY;
const byValueThenTrial =
  (value: (r: TrialResult) => number, ascending: boolean) => (a: TrialResult, b: TrialResult) => {
    const order = value(a) - value(b) || (a.trial < b.trial ? -1 : a.trial > b.trial ? 1 : 0);
    return ascending ? order : -order;
  };

describe.each([
  ['the plan the store picks', undefined],
  ['pages read along the sort order', 1],
])('listResults filters and sorts on result_values (%s)', (_, drivingFilterLimit) => {
  let store: Store;
  let everything: TrialResult[];
  beforeEach(() => {
    store = storeWith(drivingFilterLimit);
    fill(store);
    everything = allPages(store, { sortBy: 'trial', ascending: true }, 100);
  });
  afterEach(() => store.close());
  const trials = (results: TrialResult[]) => results.map((r) => r.trial);

  it.each([true, false])('sorts by a config path (ascending %s), across pages', (ascending) => {
    const listed = allPages(store, { sweep: 'study', sortBy: 'config.finetune.lr', ascending });
    expect(trials(listed)).toEqual(trials([...everything].sort(byValueThenTrial(lr, ascending))));
  });

  it('filters a config path by a range and sorts by it, counting the matches', () => {
    const request = {
      sweep: 'study',
      sortBy: 'config.finetune.lr',
      configFilter: { 'finetune.lr': '>0.0001,<=0.001' },
    };
    const expected = everything
      .filter((r) => lr(r) > 0.0001 && lr(r) <= 0.001)
      .sort(byValueThenTrial(lr, false));
    expect(expected.length).toBeGreaterThan(3);
    expect(trials(allPages(store, request))).toEqual(trials(expected));
    expect(store.listResults({ namespace: 'default', ...request }).totalCount).toBe(
      expected.length,
    );
  });

  it('filters by a config value (a number equals as a number) and sorts by a metric', () => {
    const listed = allPages(store, {
      sweep: 'study',
      sortBy: 'macro_f1',
      configFilter: { 'finetune.lr': '0.00030', 'mask.type': 'random' },
    });
    const expected = everything
      .filter((r) => lr(r) === 0.0003 && r.config.maskType === 'random')
      .sort(byValueThenTrial(macro, false));
    expect(expected.length).toBeGreaterThan(0);
    expect(trials(listed)).toEqual(trials(expected));
  });

  it('sorts by a test metric: results without it rank lowest', () => {
    const listed = allPages(store, { sweep: 'study', sortBy: 'macro_f1' });
    expect(trials(listed)).toEqual(trials([...everything].sort(byValueThenTrial(macro, false))));
    expect(listed.at(-1)?.metrics.macro_f1).toBeUndefined();
  });

  it('filters by test and validation metric ranges; missing metrics match no range', () => {
    const request = {
      sweep: 'study',
      sortBy: 'config.mask.ratio',
      ascending: true,
      metricFilter: { macro_f1: '<0.7', val_f1: '>=0.1' },
    };
    const listed = allPages(store, request);
    const expected = everything
      .filter((r) => macro(r) > Number.NEGATIVE_INFINITY && macro(r) < 0.7)
      .filter((r) => (r.valMetrics.f1 as number) >= 0.1 && r.config.maskType !== '')
      .sort(byValueThenTrial((r) => r.config.maskRatio, true));
    expect(expected.length).toBeGreaterThan(1);
    expect(trials(listed)).toEqual(trials(expected));
    expect(store.listResults({ namespace: 'default', ...request }).totalCount).toBe(
      expected.length,
    );
  });

  it('filters on a config value that is null or an array by its text', () => {
    expect(
      trials(allPages(store, { sweep: 'study', sortBy: 'trial', configFilter: { mask: 'null' } })),
    ).toEqual(trials(everything.filter((r) => r.config.maskType === '')).reverse());
    expect(
      store.listResults({
        namespace: 'default',
        configFilter: { 'finetune.freezeEncoder': 'false' },
      }).totalCount,
    ).toBe(12);
  });
});

describe('listResults pagination along result_values', () => {
  it('lists each result present throughout once, in order, while results are stored between pages', () => {
    const store = storeWith();
    fill(store);
    const before = new Set(allPages(store, { sortBy: 'trial' }, 100).map((r) => r.trial));
    const seen: TrialResult[] = [];
    let pageToken = '';
    let extra = 0;
    do {
      const page = store.listResults({
        namespace: 'default',
        sweep: 'study',
        sortBy: 'config.finetune.lr',
        pageSize: 2,
        pageToken,
      });
      seen.push(...page.results);
      pageToken = page.nextPageToken;
      // New results at both ends and in between of the lr order.
      store.reportResult(
        resultFixture({
          trial: `new${extra}`,
          seed: 100 + extra,
          learningRate: [0.00001, 0.0005, 0.01][extra % 3],
        }),
      );
      extra += 1;
    } while (pageToken !== '');
    const listed = seen.map((r) => r.trial);
    expect(new Set(listed).size).toBe(listed.length);
    for (const trial of before) expect(listed).toContain(trial);
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1] as TrialResult, seen[i] as TrialResult];
      expect(lr(a) > lr(b) || (lr(a) === lr(b) && a.trial > b.trial)).toBe(true);
    }
    store.close();
  });

  it('keeps a replaced attempt once, at its new values', () => {
    const store = storeWith();
    store.reportResult(resultFixture({ trial: 'a', metrics: { f1: 0.5, macro_f1: 0.9 } }));
    store.reportResult({
      ...resultFixture({ trial: 'a', metrics: { f1: 0.5, macro_f1: 0.1 } }),
      attempt: 2,
    });
    const listed = store.listResults({ namespace: 'default', sortBy: 'macro_f1' });
    expect(listed.results.map((r) => [r.trial, r.metrics.macro_f1])).toEqual([['a', 0.1]]);
    expect(
      store.listResults({ namespace: 'default', metricFilter: { macro_f1: '>0.5' } }).totalCount,
    ).toBe(0);
    const equal = (value: string) =>
      store.listResults({ namespace: 'default', sweep: 'study', metricFilter: { macro_f1: value } })
        .totalCount;
    expect([equal('0.1'), equal('0.10'), equal('0.9')]).toEqual([1, 1, 0]);
    store.close();
  });
});

describe('listResults refusals for filters and sorts', () => {
  it('names the field of bad filter syntax, an unknown metric and a bad config sort', () => {
    const store = storeWith();
    const list = (request: Partial<ListResultsInput>) => () =>
      store.listResults({ namespace: 'default', ...request });
    for (const bad of ['>=abc', '>0.1,<', '<=1e', '> 1,2', '>0x10']) {
      const error = refusal(list({ configFilter: { 'finetune.lr': bad } }));
      expect(error).toMatchObject({
        name: 'InvalidRequestError',
        field: 'config_filter.finetune.lr',
      });
      expect(error.message).toMatch(/a range is comparisons/);
    }
    expect(refusal(list({ metricFilter: { macro_f1: 'high' } })).field).toBe(
      'metric_filter.macro_f1',
    );
    expect(refusal(list({ metricFilter: { loss: '<1' } })).message).toMatch(
      /^metric_filter\.loss: the key must be one of accuracy, .*val_macro_f1$/,
    );
    expect(refusal(list({ sortBy: 'config.finetune..lr' })).field).toBe('sort_by');
    expect(refusal(list({ sortBy: "config.a') OR 1=1 --" })).field).toBe('sort_by');
    for (let i = 0; i < 3; i++) store.reportResult(resultFixture({ trial: `t${i}`, seed: i }));
    const { nextPageToken } = store.listResults({
      namespace: 'default',
      sortBy: 'config.seed',
      pageSize: 1,
    });
    expect(
      refusal(
        list({
          sortBy: 'config.seed',
          pageSize: 1,
          pageToken: nextPageToken,
          configFilter: { seed: '>0' },
        }),
      ).message,
    ).toMatch(/another listing/);
    store.close();
  });
});

describe('schema version 4', () => {
  it('backfills result_values once when a version 3 file opens, and keeps them after', () => {
    const path = join(dir, 'v3.db');
    const v3 = new Database(path);
    expect(migrate(v3, 3)).toEqual([1, 2, 3]);
    v3.prepare(`INSERT INTO sweeps VALUES ('default', 'study', '{}', 2, 0)`).run();
    v3.prepare(`UPDATE counters SET value = 2 WHERE name = 'result_sequence'`).run();
    const insert = v3.prepare(`INSERT INTO results (namespace, sweep, trial, attempt, config_key,
        method, mask_type, mask_ratio, mask_size, augmentation, seed, pretrain_key, config_json,
        num_classes, confusion_counts, metrics_json, f1, precision, recall, accuracy,
        val_metrics_json, val_f1, grids_json, finished_at_ms, duration_seconds, sequence)
      VALUES ('default', 'study', ?, 1, ?, 'spark', 'random', 0.6, 0, 'none', ?, 'pt', ?, 2,
        '[1,0,0,1]', ?, 0.5, 0.5, 0.5, 0.5, ?, ?, '[]', 0, 1, ?)`);
    insert.run(
      'old-a',
      'cfg-a',
      0,
      '{"finetune":{"lr":0.001}}',
      '{"f1":0.5,"macro_f1":0.4}',
      '{"f1":0.7}',
      0.7,
      1,
    );
    insert.run('old-b', 'cfg-b', 1, '{"finetune":{"lr":0.01}}', '{"f1":0.5}', '{"f1":0.6}', 0.6, 2);
    v3.close();

    const store = openStore({ path });
    store.reportResult(
      resultFixture({
        trial: 'new',
        seed: 2,
        learningRate: 0.005,
        metrics: { f1: 0.1, macro_f1: 0.8 },
      }),
    );
    const trials = (request: Partial<ListResultsInput>) =>
      store
        .listResults({ namespace: 'default', sweep: 'study', ...request })
        .results.map((r) => r.trial);
    expect(trials({ sortBy: 'config.finetune.lr' })).toEqual(['old-b', 'new', 'old-a']);
    expect(trials({ sortBy: 'macro_f1' })).toEqual(['new', 'old-a', 'old-b']);
    expect(trials({ sortBy: 'trial', configFilter: { 'finetune.lr': '>=0.005' } })).toEqual([
      'old-b',
      'new',
    ]);
    store.close();

    // Opening again neither migrates nor adds rows.
    const db = new Database(path);
    const rows = db.prepare('SELECT count(*) FROM result_values').pluck().get();
    db.close();
    openStore({ path }).close();
    const again = new Database(path);
    expect(again.prepare('SELECT count(*) FROM result_values').pluck().get()).toBe(rows);
    expect(again.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(4);
    // The version 1 expression indexes on a few config paths are gone (result_values serves them).
    expect(
      again
        .prepare("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'results_by_sweep_config_%'")
        .pluck()
        .get(),
    ).toBe(0);
    again.close();
  });
});

describe('listResults across a namespace', () => {
  it('sorts and filters by result_values fields over every sweep', () => {
    const store = storeWith();
    store.registerSweep({ namespace: 'default', sweep: 'other', specJson: '{}', trialCount: 9 });
    store.reportResult(resultFixture({ trial: 'a', learningRate: 0.002 }));
    store.reportResult(resultFixture({ sweep: 'other', trial: 'b', learningRate: 0.003 }));
    store.reportResult(resultFixture({ sweep: 'other', trial: 'c', maskType: '' }));
    const trials = (request: Partial<ListResultsInput>) =>
      allPages(store, request, 1).map((r) => r.trial);
    expect(trials({ sortBy: 'config.finetune.lr' })).toEqual(['b', 'a', 'c']);
    expect(trials({ sortBy: 'config.mask.ratio', ascending: true })).toEqual(['a', 'b']);
    expect(trials({ sortBy: 'macro_f1', configFilter: { 'finetune.lr': '>0.001' } })).toEqual([
      'b',
      'a',
    ]);
    store.close();
  });
});
