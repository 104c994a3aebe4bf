import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  createHealthClient,
  createLeaderboardClient,
  HealthCheckResponse_ServingStatus,
  type LeaderboardClient,
  type MessageInit,
  type TrialResult,
} from '@masksweep/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Leaderboard, startLeaderboard } from '../leaderboard.js';
import {
  type ResultFixture,
  resultFixture as storeFixture,
} from '../store/fixtures.test-support.js';

/** A result as a trial-runner sends it (the store's fixture allows nulls the wire does not). */
const resultFixture = (fixture: ResultFixture) => storeFixture(fixture) as MessageInit<TrialResult>;

// 32 bytes as 64 hex digits: the shortest hex token the leaderboard takes.
const TOKEN = '5f0c'.repeat(16);
let leaderboard: Leaderboard;
let client: LeaderboardClient;
const writer = () => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  return { metadata };
};

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leaderboard-grpc-'));
  leaderboard = await startLeaderboard({ database: join(dir, 'lb.db'), token: TOKEN });
  client = createLeaderboardClient(`127.0.0.1:${leaderboard.grpcPort}`);
  await client.registerSweep(
    { namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 4 },
    writer(),
  );
});
afterAll(async () => {
  client?.close();
  await leaderboard?.close();
});

async function refusal(call: Promise<unknown>) {
  const error = (await call.then(
    () => undefined,
    (e: grpc.ServiceError) => e,
  )) as grpc.ServiceError | undefined;
  if (!error) throw new Error('the call was accepted');
  return { code: error.code, details: error.details, field: error.metadata?.get('field')[0] };
}

describe('the leaderboard over gRPC on a real port', () => {
  it('answers the health check', async () => {
    const health = createHealthClient(`127.0.0.1:${leaderboard.grpcPort}`);
    expect((await health.check({ service: 'masksweep.v1.Leaderboard' })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    health.close();
  });

  it('stores a result reported twice once, and lets a later attempt supersede it', async () => {
    const first = resultFixture({ trial: 'study-a', attempt: 1, metrics: { f1: 0.5 } });
    expect((await client.reportResult({ result: first }, writer())).stored).toBe(true);
    expect((await client.reportResult({ result: first }, writer())).stored).toBe(false);
    const second = resultFixture({
      trial: 'study-a',
      attempt: 2,
      metrics: { f1: 0.7 },
      valMetrics: { f1: 0.65, macro_f1: 0.6 },
      grids: ['tables-2-4', 'tables-5-8'],
    });
    expect((await client.reportResult({ result: second }, writer())).stored).toBe(true);
    // an earlier attempt arriving late changes nothing
    expect((await client.reportResult({ result: first }, writer())).stored).toBe(false);
    const listed = await client.listResults({ sweep: 'study', configFilter: {} });
    const rows = listed.results.filter((r) => r.trial === 'study-a');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.attempt).toBe(2);
    expect(rows[0]?.metrics.f1).toBe(0.7);
    // Both splits and the grids cross the wire.
    expect(rows[0]?.valMetrics).toEqual({ f1: 0.65, macro_f1: 0.6 });
    expect(rows[0]?.config?.grids).toEqual(['tables-2-4', 'tables-5-8']);
  });

  it('refuses an unknown sweep and a malformed confusion matrix with INVALID_ARGUMENT naming the field', async () => {
    const unknown = await refusal(
      client.reportResult({ result: resultFixture({ sweep: 'nope', trial: 'nope-a' }) }, writer()),
    );
    expect(unknown.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(unknown.field).toBe('result.sweep');
    expect(unknown.details).toMatch(/nope/);

    const malformed = await refusal(
      client.reportResult(
        { result: resultFixture({ trial: 'study-b', counts: [1, 2, 3] }) },
        writer(),
      ),
    );
    expect(malformed.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(malformed.field).toBe('result.confusion_matrix.counts');
  });

  it('refuses results that do not add up with INVALID_ARGUMENT naming the field', async () => {
    const refused = async (
      fixture: Parameters<typeof resultFixture>[0],
      spoil = (_r: MessageInit<TrialResult>) => {},
    ) => {
      const result = resultFixture({ trial: 'study-bad', seed: 9, ...fixture });
      spoil(result);
      return refusal(client.reportResult({ result }, writer()));
    };
    const cases = [
      [await refused({ finishedAtMs: 8.64e15 + 1 }), 'result.finished_at_ms'],
      // A uint32 sent as -1 by another client arrives as 4294967295.
      [await refused({ attempt: 2 ** 32 - 1 }), 'result.attempt'],
      [await refused({ metrics: { f1: 7 } }), 'result.metrics.f1'],
      [await refused({ metrics: JSON.parse('{"f1": 0.5, "__proto__": 1}') }), 'result.metrics'],
      [
        await refused({
          counts: [1, 0, 0, 0],
          predictions: [{ sampleId: 'a', label: 1, predicted: 1, probabilities: [0.2, 0.8] }],
        }),
        'result.confusion_matrix.counts[0]',
      ],
      [
        await refused({
          predictions: [{ sampleId: 'a', label: 1, predicted: 1, probabilities: [-1, 2] }],
        }),
        'result.predictions[0].probabilities[0]',
      ],
    ] as const;
    for (const [answer, field] of cases) {
      expect(answer.code, field).toBe(grpc.status.INVALID_ARGUMENT);
      expect(answer.field).toBe(field);
    }
    expect(cases[3][0].details).toMatch(/refused metric names "__proto__"/);
  });

  it('answers ALREADY_EXISTS, saying what differs, to a conflicting duplicate and to a second trial of a seed', async () => {
    const result = resultFixture({ trial: 'study-e', seed: 7, metrics: { f1: 0.4 } });
    expect((await client.reportResult({ result }, writer())).stored).toBe(true);
    expect((await client.reportResult({ result }, writer())).stored).toBe(false);
    const conflict = await refusal(
      client.reportResult(
        { result: resultFixture({ trial: 'study-e', seed: 7, metrics: { f1: 0.9 } }) },
        writer(),
      ),
    );
    expect(conflict.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(conflict.field).toBe('result.metrics');
    expect(conflict.details).toMatch(/other values of result\.metrics;/);
    const sameSeed = await refusal(
      client.reportResult({ result: resultFixture({ trial: 'study-f', seed: 7 }) }, writer()),
    );
    expect(sameSeed.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(sameSeed.field).toBe('result.config.seed');
    expect(sameSeed.details).toMatch(/stored as trial "study-e"/);
  });

  it('refuses writes without the token (or with a wrong one) as UNAUTHENTICATED', async () => {
    const result = resultFixture({ trial: 'study-c' });
    expect((await refusal(client.reportResult({ result }))).code).toBe(grpc.status.UNAUTHENTICATED);
    const wrong = new grpc.Metadata();
    wrong.set('authorization', 'Bearer nope');
    expect((await refusal(client.reportResult({ result }, { metadata: wrong }))).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );
    expect(
      (await refusal(client.registerSweep({ sweep: 'other', specJson: '{}', trialCount: 1 }))).code,
    ).toBe(grpc.status.UNAUTHENTICATED);
    const listed = await client.listResults({ sweep: 'study', configFilter: {} });
    expect(listed.results.map((r) => r.trial)).not.toContain('study-c');
  });

  it('streams results as they are stored (WatchResults)', async () => {
    const stream = client.watchResults({ sweep: 'study' });
    const received: TrialResult[] = [];
    stream.on('data', (result: TrialResult) => received.push(result));
    stream.on('error', () => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.reportResult({ result: resultFixture({ trial: 'study-d', seed: 1 }) }, writer());
    await expect.poll(() => received.map((r) => r.trial), { timeout: 5_000 }).toEqual(['study-d']);
    stream.cancel();
  });

  it('answers bytes that are not a request with INVALID_ARGUMENT, not INTERNAL', async () => {
    const raw = new grpc.Client(
      `127.0.0.1:${leaderboard.grpcPort}`,
      grpc.credentials.createInsecure(),
    );
    // A varint that never ends: no message decodes from it.
    const garbage = Buffer.from([0xff, 0xff, 0xff]);
    const call = (path: string, metadata: grpc.Metadata) =>
      new Promise<grpc.ServiceError>((resolve, reject) =>
        raw.makeUnaryRequest(
          path,
          (bytes: Buffer) => bytes,
          (bytes: Buffer) => bytes,
          garbage,
          metadata,
          (error) => (error ? resolve(error) : reject(new Error('the call was accepted'))),
        ),
      );
    try {
      for (const [path, metadata] of [
        ['/masksweep.v1.Leaderboard/ListResults', new grpc.Metadata()],
        ['/masksweep.v1.Leaderboard/ReportResult', writer().metadata],
        ['/grpc.health.v1.Health/Check', new grpc.Metadata()],
      ] as const) {
        const error = await call(path, metadata);
        expect(error.code, path).toBe(grpc.status.INVALID_ARGUMENT);
        expect(error.details).toMatch(/^request: the bytes are not a \w+ request \(.+\)$/);
      }
      // The health service's stream too.
      const watched = await new Promise<grpc.ServiceError>((resolve, reject) => {
        const stream = raw.makeServerStreamRequest(
          '/grpc.health.v1.Health/Watch',
          (bytes: Buffer) => bytes,
          (bytes: Buffer) => bytes,
          garbage,
        );
        stream.on('data', () => reject(new Error('the watch was answered')));
        stream.on('error', resolve);
      });
      expect(watched.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(watched.details).toMatch(/^request: the bytes are not a Watch request \(.+\)$/);
    } finally {
      raw.close();
    }
  });

  it('refuses an unknown sort_by with INVALID_ARGUMENT listing the accepted names', async () => {
    const unknown = await refusal(client.listResults({ sweep: 'study', sortBy: 'f2' }));
    expect(unknown.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(unknown.field).toBe('sort_by');
    expect(unknown.details).toMatch(
      /must be one of val_f1, .*, trial, finished_at or config.<path>, got "f2"/,
    );
    // metric_filter (field 9) arrives: its bad syntax is refused naming it.
    const badRange = await refusal(
      client.listResults({ sweep: 'study', metricFilter: { macro_f1: '>high' } }),
    );
    expect([badRange.code, badRange.field]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      'metric_filter.macro_f1',
    ]);
  });

  it('summarises over seeds and compares two configs on the same samples', async () => {
    const summary = await client.getSweepSummary({ sweep: 'study' });
    expect(summary.resultCount).toBeGreaterThan(0);
    expect(summary.configs[0]?.metrics.f1?.n).toBeGreaterThan(0);
    const bad = await refusal(
      client.compareConfigs({ sweep: 'study', configKeyA: 'nope', configKeyB: 'nope' }),
    );
    expect(bad.field).toBe('config_key_a');
  });
});
