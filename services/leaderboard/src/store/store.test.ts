import { type MetricEvent, MetricKind, Stage } from '@masksweep/proto';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../metrics.js';
import { resultFixture } from './fixtures.test-support.js';
import { openStore, type Store } from './store.js';
import { refusal, useTestStore } from './store.test-support.js';
import type { StoreChange, TrialResult } from './types.js';

let store: Store;
let path: string;
useTestStore((opened, file) => {
  store = opened;
  path = file;
});

describe('registerSweep', () => {
  it('creates a sweep once and keeps its creation time on re-registration', () => {
    const request = { namespace: 'lab', sweep: 'masks', specJson: '{"a":1}', trialCount: 3 };
    expect(store.registerSweep(request)).toEqual({ created: true });
    const created = store.getSweep('lab', 'masks');
    expect(store.registerSweep({ ...request, trialCount: 5 })).toEqual({ created: false });
    expect(store.getSweep('lab', 'masks')).toEqual({ ...created, trialCount: 5 });
    expect(store.listSweeps().map((s) => s.sweep)).toContain('masks');
  });

  it('refuses a spec that is not a JSON object, naming spec_json', () => {
    const error = refusal(() =>
      store.registerSweep({ namespace: 'lab', sweep: 'x', specJson: '[1]', trialCount: 1 }),
    );
    expect(error).toMatchObject({ name: 'InvalidRequestError', field: 'spec_json' });
  });
});

describe('reportResult idempotency and attempts', () => {
  const prediction = (sampleId: string, predicted: number) => ({
    sampleId,
    label: 1,
    predicted,
    probabilities: [1 - predicted, predicted],
  });

  it('stores one row for the same (trial, attempt) reported twice', () => {
    const metrics = new Metrics();
    const counted = openStore({ path, metrics });
    const result = resultFixture({ trial: 't1', predictions: [prediction('a', 1)] });
    expect(counted.reportResult(result)).toEqual({ stored: true });
    expect(counted.reportResult(result)).toEqual({ stored: false });
    const listed = counted.listResults({ namespace: 'default', sweep: 'study' });
    expect(listed.totalCount).toBe(1);
    expect(counted.getResult('default', 't1')?.predictions).toHaveLength(1);
    counted.close();
  });

  it('replaces the row, predictions and artifacts with a later attempt', () => {
    store.reportResult(
      resultFixture({
        trial: 't1',
        attempt: 1,
        metrics: { f1: 0.1 },
        predictions: [prediction('a', 0), prediction('b', 0)],
        artifacts: [{ name: 'gradcam/a.png', uri: 'a.png', mediaType: 'image/png' }],
      }),
    );
    const first = store.getResult('default', 't1') as TrialResult;
    expect(
      store.reportResult(
        resultFixture({
          trial: 't1',
          attempt: 2,
          metrics: { f1: 0.9 },
          predictions: [prediction('c', 1)],
        }),
      ),
    ).toEqual({ stored: true });
    const second = store.getResult('default', 't1') as TrialResult;
    expect(second.attempt).toBe(2);
    expect(second.metrics).toEqual({ f1: 0.9 });
    expect(second.predictions).toEqual([prediction('c', 1)]);
    expect(second.artifacts).toEqual([]);
    expect(second.sequence).toBeGreaterThan(first.sequence);
    expect(store.listResults({ namespace: 'default' }).totalCount).toBe(1);
  });

  it('ignores an earlier attempt that arrives after a later one', () => {
    store.reportResult(resultFixture({ trial: 't1', attempt: 3, metrics: { f1: 0.9 } }));
    expect(
      store.reportResult(resultFixture({ trial: 't1', attempt: 2, metrics: { f1: 0.1 } })),
    ).toEqual({ stored: false });
    expect(store.getResult('default', 't1')?.metrics.f1).toBe(0.9);
  });

  it('refuses a later attempt that changes the trial config', () => {
    store.reportResult(resultFixture({ trial: 't1', attempt: 1, seed: 0 }));
    const error = refusal(() =>
      store.reportResult(resultFixture({ trial: 't1', attempt: 2, maskType: 'mesh' })),
    );
    expect(error.field).toBe('result.config.config_key');
    expect(store.getResult('default', 't1')?.attempt).toBe(1);
  });

  it('refuses another result under a stored (trial, attempt) as a conflict naming what differs', () => {
    const original = resultFixture({
      trial: 't1',
      predictions: [prediction('b', 1), prediction('a', 0)],
    });
    original.predictions?.[0]?.probabilities.splice(0, 2, 0.1, 0.9);
    store.reportResult(original);
    // A faithful retry (probabilities as sent, before their float32 storage) is no conflict.
    expect(store.reportResult(structuredClone(original))).toEqual({ stored: false });
    // The same attempt run again after an interruption: the same figures, another time.
    const rerun = { ...structuredClone(original), finishedAtMs: 1_760_000_000_000 };
    expect(store.reportResult({ ...rerun, durationSeconds: 7 })).toEqual({ stored: false });
    const changed = resultFixture({
      trial: 't1',
      metrics: { f1: 0.5 },
      predictions: original.predictions?.map((p) => ({ ...p, probabilities: [] })),
    });
    const error = refusal(() => store.reportResult(changed));
    expect(error.name).toBe('ConflictError');
    expect(error.field).toBe('result.metrics');
    expect(error.message).toMatch(/other values of result\.metrics, result\.predictions;/);
    expect(store.getResult('default', 't1')?.metrics.f1).toBe(0.75);
  });

  it('keeps one trial per (config, seed) of a sweep: a second trial of a stored seed is a conflict', () => {
    store.reportResult(resultFixture({ trial: 't1', seed: 4 }));
    const error = refusal(() => store.reportResult(resultFixture({ trial: 't2', seed: 4 })));
    expect(error).toMatchObject({ name: 'ConflictError', field: 'result.config.seed' });
    expect(error.message).toMatch(/seed 4 of sweep "study" is stored as trial "t1"/);
    expect(store.reportResult(resultFixture({ trial: 't2', seed: 5 }))).toEqual({ stored: true });
    const summary = store.getSweepSummary({ namespace: 'default', sweep: 'study' });
    expect(summary.configs[0]?.seeds).toEqual([4, 5]);
  });

  it('counts a seed stored twice (before the store refused it) once in a summary', () => {
    store.reportResult(resultFixture({ trial: 't1', seed: 4, metrics: { f1: 0.2 } }));
    store.reportResult(resultFixture({ trial: 't2', seed: 5, metrics: { f1: 0.8 } }));
    store.close();
    const db = new Database(path);
    db.prepare("UPDATE results SET seed = 4 WHERE trial = 't2'").run();
    db.close();
    store = openStore({ path });
    const [config] = store.getSweepSummary({ namespace: 'default', sweep: 'study' }).configs;
    expect(config?.seeds).toEqual([4]);
    expect(config?.trials).toEqual(['t1']);
    expect(config?.metrics.f1?.n).toBe(1);
    expect(config?.metrics.f1?.mean).toBe(0.2);
    store.close();
  });

  it('round-trips every field of a result', () => {
    const input = resultFixture({
      trial: 't1',
      predictions: [prediction('b', 1), prediction('a', 0)],
      artifacts: [
        { name: 'gradcam/b.png', uri: 't1/gradcam/b.png', mediaType: 'image/png' },
        { name: 'report', uri: 'https://example.org/r', mediaType: 'text/html' },
      ],
    });
    store.reportResult(input);
    const stored = store.getResult('default', 't1');
    expect(stored).toEqual({
      ...input,
      predictions: [prediction('a', 0), prediction('b', 1)],
      sequence: 1,
    });
  });

  it('tells listeners after the commit, with the new sequence', () => {
    const changes: StoreChange[] = [];
    const seen: Array<number | undefined> = [];
    const unsubscribe = store.subscribe((change) => {
      changes.push(change);
      if (change.type === 'result') seen.push(store.getResult('default', change.trial)?.sequence);
    });
    store.reportResult(resultFixture({ trial: 't1' }));
    store.reportResult(resultFixture({ trial: 't1' }));
    store.reportResult(resultFixture({ trial: 't2', seed: 2 }));
    unsubscribe();
    store.reportResult(resultFixture({ trial: 't3', seed: 3 }));
    expect(changes).toEqual([
      { type: 'result', namespace: 'default', sweep: 'study', trial: 't1', sequence: 1 },
      { type: 'result', namespace: 'default', sweep: 'study', trial: 't2', sequence: 2 },
    ]);
    expect(seen).toEqual([1, 2]);
    expect(
      store.resultsSince(1, { namespace: 'default', sweep: 'study' }).map((r) => r.trial),
    ).toEqual(['t2', 't3']);
  });
});

describe('insertMetricEvents', () => {
  const event = (step: number, values: Record<string, number>, trial = 't1'): MetricEvent => ({
    namespace: 'default',
    sweep: 'study',
    trial,
    attempt: 1,
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_TRAIN,
    step,
    epoch: 0,
    values,
    wallTimeMs: 1000 + step,
  });

  it('stores each point once and counts only the new ones', () => {
    expect(
      store.insertMetricEvents([event(0, { loss: 1, lr: 0.1 }), event(1, { loss: 0.5 })]),
    ).toBe(3);
    expect(store.insertMetricEvents([event(1, { loss: 0.5 }), event(2, { loss: 0.25 })])).toBe(1);
    const curve = store.metricCurve({ namespace: 'default', trial: 't1', names: ['loss'] });
    expect(curve.map((p) => [p.step, p.value])).toEqual([
      [0, 1],
      [1, 0.5],
      [2, 0.25],
    ]);
    const later = store.metricCurve({ namespace: 'default', trial: 't1', sinceId: curve[1]?.id });
    expect(later.map((p) => p.step)).toEqual([2]);
  });

  it('keeps NaN of a diverged run', () => {
    store.insertMetricEvents([event(0, { loss: Number.NaN })]);
    expect(store.metricCurve({ namespace: 'default', trial: 't1' })[0]?.value).toBeNaN();
  });

  it('refuses a batch with one bad event and stores none of it', () => {
    const bad = { ...event(1, { loss: 1 }), stage: 7 as Stage };
    const error = refusal(() => store.insertMetricEvents([event(0, { loss: 1 }), bad]));
    expect(error).toMatchObject({ name: 'InvalidMetricEventError', field: 'events[1].stage' });
    expect(error.message).toMatch(/got 7/);
    expect(store.metricCurve({ namespace: 'default', trial: 't1' })).toEqual([]);
  });

  it('refuses a wall time past 9999-12-31 and an attempt of 4294967295 (a uint32 -1)', () => {
    const late = { ...event(0, { loss: 1 }), wallTimeMs: 8.64e15 + 1 };
    expect(refusal(() => store.insertMetricEvents([late])).field).toBe('events[0].wall_time_ms');
    const negative = { ...event(0, { loss: 1 }), attempt: 2 ** 32 - 1 };
    expect(refusal(() => store.insertMetricEvents([negative])).field).toBe('events[0].attempt');
    const reserved = event(0, JSON.parse('{"loss": 1, "__proto__": 2}'));
    expect(refusal(() => store.insertMetricEvents([reserved])).message).toMatch(
      /events\[0\]\.values: refused metric names "__proto__"/,
    );
    expect(store.metricCurve({ namespace: 'default', trial: 't1' })).toEqual([]);
  });

  it('lists the trials of a sweep by their latest point', () => {
    store.insertMetricEvents([event(0, { loss: 1 }, 'a'), event(0, { loss: 1 }, 'b')]);
    store.insertMetricEvents([event(1, { loss: 1 }, 'a')]);
    expect(store.recentCurveTrials({ namespace: 'default', sweep: 'study', limit: 5 })).toEqual([
      'a',
      'b',
    ]);
    const points = store.sweepPointsSince({ namespace: 'default', sweep: 'study', sinceId: 0 });
    expect(points.map((p) => p.trial)).toEqual(['a', 'b', 'a']);
  });

  it('notifies with the sweeps that got points', () => {
    const changes: StoreChange[] = [];
    store.subscribe((change) => changes.push(change));
    store.insertMetricEvents([event(0, { loss: 1 })]);
    store.insertMetricEvents([event(0, { loss: 1 })]);
    expect(changes).toEqual([
      { type: 'metrics', sweeps: [{ namespace: 'default', sweep: 'study' }], lastPointId: 1 },
    ]);
  });
});

describe('listResults', () => {
  it('pages through every result in sort order, whatever the page size and sort', () => {
    const metricValue = fc.option(fc.constantFrom(0.1, 0.5, 0.5, 0.9, 0.25), { nil: undefined });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            f1: metricValue,
            recall: metricValue,
            valF1: metricValue,
            valRecall: metricValue,
            finished: fc.nat(5),
          }),
          { minLength: 0, maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom(
          'f1',
          'recall',
          'trial',
          'finished_at',
          'macro_f1',
          'val_f1',
          'val_recall',
          undefined,
        ),
        fc.boolean(),
        (rows, pageSize, sortBy, ascending) => {
          const sweep = `p${Math.random().toString(36).slice(2)}`;
          store.registerSweep({ namespace: 'default', sweep, specJson: '{}', trialCount: 0 });
          const expected = rows.map((row, i) => {
            const metrics: Record<string, number> = {};
            if (row.f1 !== undefined) metrics.f1 = row.f1;
            if (row.recall !== undefined) metrics.recall = metrics.macro_f1 = row.recall;
            const valMetrics: Record<string, number> = {};
            if (row.valF1 !== undefined) valMetrics.f1 = row.valF1;
            if (row.valRecall !== undefined) valMetrics.recall = row.valRecall;
            const trial = `${sweep}-${String(i).padStart(2, '0')}`;
            store.reportResult(
              resultFixture({
                sweep,
                trial,
                seed: i,
                metrics,
                valMetrics,
                finishedAtMs: row.finished,
              }),
            );
            // By sort name: val_<metric> is the validation metric; no name is val_f1.
            const values: Record<string, number> = { ...metrics };
            for (const [name, value] of Object.entries(valMetrics)) values[`val_${name}`] = value;
            const sortName = sortBy ?? 'val_f1';
            const key: number | string =
              sortName === 'trial'
                ? trial
                : sortName === 'finished_at'
                  ? row.finished
                  : (values[sortName] ?? Number.NEGATIVE_INFINITY);
            return { trial, key };
          });
          const sign = ascending ? 1 : -1;
          expected.sort((x, y) =>
            x.key < y.key
              ? -sign
              : x.key > y.key
                ? sign
                : x.trial < y.trial
                  ? -sign
                  : x.trial > y.trial
                    ? sign
                    : 0,
          );
          const seen: string[] = [];
          let pageToken = '';
          let pages = 0;
          do {
            pages += 1;
            expect(pages).toBeLessThanOrEqual(rows.length + 1);
            const page = store.listResults({
              namespace: 'default',
              sweep,
              sortBy,
              ascending,
              pageSize,
              pageToken,
            });
            expect(page.totalCount).toBe(rows.length);
            expect(page.results.length).toBeLessThanOrEqual(pageSize);
            seen.push(...page.results.map((r) => r.trial));
            pageToken = page.nextPageToken;
          } while (pageToken !== '');
          expect(seen).toEqual(expected.map((e) => e.trial));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('ranks by validation F1 by default: the best test F1 with a worse validation F1 is not first', () => {
    store.reportResult(
      resultFixture({
        trial: 'best-on-test',
        seed: 1,
        metrics: { f1: 0.95 },
        valMetrics: { f1: 0.6 },
      }),
    );
    store.reportResult(
      resultFixture({
        trial: 'best-on-validation',
        seed: 2,
        metrics: { f1: 0.7 },
        valMetrics: { f1: 0.9 },
      }),
    );
    // A result reported without validation metrics ranks last.
    store.reportResult(
      resultFixture({ trial: 'unvalidated', seed: 3, metrics: { f1: 0.99 }, valMetrics: {} }),
    );
    const ranked = (sortBy?: string) =>
      store.listResults({ namespace: 'default', sortBy }).results.map((r) => r.trial);
    expect(ranked()).toEqual(['best-on-validation', 'best-on-test', 'unvalidated']);
    expect(ranked('val_f1')).toEqual(ranked());
    // Test F1 is there to report, and still sorts when asked for by name.
    expect(ranked('f1')).toEqual(['unvalidated', 'best-on-test', 'best-on-validation']);
    const first = store.listResults({ namespace: 'default', pageSize: 1 }).results[0];
    expect(first).toMatchObject({ metrics: { f1: 0.7 }, valMetrics: { f1: 0.9 } });
  });

  it('filters on config paths: numbers as numbers, other values as their text', () => {
    store.reportResult(resultFixture({ trial: 'a', maskType: 'mesh', maskRatio: 0.7 }));
    store.reportResult(resultFixture({ trial: 'b', maskType: 'mesh', maskRatio: 0.5 }));
    store.reportResult(resultFixture({ trial: 'c', maskType: 'random', maskRatio: 0.7 }));
    store.reportResult(
      resultFixture({ trial: 'd', method: 'simclr', maskType: '', learningRate: 0.00001 }),
    );
    const trials = (configFilter: Record<string, string>) =>
      store
        .listResults({ namespace: 'default', configFilter, sortBy: 'trial', ascending: true })
        .results.map((r) => r.trial);
    expect(trials({ 'mask.type': 'mesh' })).toEqual(['a', 'b']);
    expect(trials({ 'mask.type': 'mesh', 'mask.ratio': '0.7' })).toEqual(['a']);
    expect(trials({ 'mask.ratio': '0.70' })).toEqual(['a', 'c']);
    expect(trials({ 'mask.ratio': '0.7x' })).toEqual([]);
    expect(trials({ method: 'simclr' })).toEqual(['d']);
    expect(trials({ 'finetune.lr': '0.00001' })).toEqual(['d']);
    expect(trials({ 'finetune.freezeEncoder': 'false' })).toEqual(['a', 'b', 'c', 'd']);
    expect(trials({ 'augmentation.type': 'mixup' })).toEqual([]);
    expect(
      store.listResults({ namespace: 'default', configFilter: { 'mask.type': 'mesh' } }).totalCount,
    ).toBe(2);
  });

  it('returns predictions only when asked', () => {
    const predictions = [{ sampleId: 'x', label: 1, predicted: 1, probabilities: [] }];
    store.reportResult(resultFixture({ trial: 'a', predictions }));
    expect(store.listResults({ namespace: 'default' }).results[0]?.predictions).toEqual([]);
    expect(
      store.listResults({ namespace: 'default', includePredictions: true }).results[0]?.predictions,
    ).toEqual(predictions);
  });

  it('refuses bad page sizes, tokens, filters and sorts, naming the field', () => {
    const list = (request: object) => () => store.listResults({ namespace: 'default', ...request });
    expect(refusal(list({ pageSize: 1001 }))).toMatchObject({
      name: 'InvalidRequestError',
      field: 'page_size',
    });
    expect(refusal(list({ pageSize: 2.5 })).message).toMatch(/page_size: .*got 2.5/);
    expect(refusal(list({ pageSize: -1 })).field).toBe('page_size');
    expect(refusal(list({ pageToken: 'not a token!' })).field).toBe('page_token');
    expect(refusal(list({ pageToken: Buffer.from('{"x":1}').toString('base64url') })).field).toBe(
      'page_token',
    );
    expect(refusal(list({ configFilter: { "mask.type') OR 1=1 --": 'x' } })).field).toBe(
      "config_filter.mask.type') OR 1=1 --",
    );
    expect(refusal(list({ sortBy: 'f1"; DROP TABLE results' })).field).toBe('sort_by');
    // A metric no result has would sort every row as if it lacked it: refused, listing the names.
    const unknown = refusal(list({ sortBy: 'f2' }));
    expect(unknown.field).toBe('sort_by');
    expect(unknown.message).toMatch(
      /^sort_by: must be one of val_f1, val_accuracy, .*macro_f1, trial, finished_at or config.<path>, got "f2"$/,
    );

    for (let i = 0; i < 3; i++) store.reportResult(resultFixture({ trial: `t${i}`, seed: i }));
    const { nextPageToken } = store.listResults({ namespace: 'default', pageSize: 1 });
    expect(nextPageToken).not.toBe('');
    expect(
      refusal(list({ pageSize: 1, sortBy: 'recall', pageToken: nextPageToken })).message,
    ).toMatch(/another listing/);
  });
});
