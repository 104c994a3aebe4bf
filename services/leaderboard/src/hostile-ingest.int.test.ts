/**
 * The leaderboard's NATS ingest fed by a careless or hostile publisher, on a real
 * nats-server: undecodable and misaddressed messages are terminated, events the store
 * refuses are dropped one by one (the good events of their batch are stored), every good
 * event is stored once, and ingest goes on after all of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectBus, EventPublisher, subjectFor } from '@masksweep/bus';
import {
  type MessageInit,
  type MetricEvent,
  MetricEventBatch,
  MetricKind,
  Stage,
} from '@masksweep/proto';
import { type NatsServer, startNatsServer } from '@masksweep/testing';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Leaderboard, startLeaderboard } from './leaderboard.js';

const ADDRESS = { namespace: 'lab', sweep: 'study', trial: 'study-0' };
const SUBJECT = subjectFor({ ...ADDRESS, kind: 'metric' });

function metric(step: number, change: Partial<MessageInit<MetricEvent>> = {}) {
  return {
    ...ADDRESS,
    attempt: 1,
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_TRAIN,
    step,
    epoch: 0,
    values: { loss: 1 / (step + 1) },
    wallTimeMs: 1_767_225_600_000 + step,
    ...change,
  };
}

let dir: string;
let nats: NatsServer;
let leaderboard: Leaderboard;
let connection: NatsConnection;
const warnings: Array<{ message: string; fields: unknown }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-hostile-ingest-'));
  nats = await startNatsServer();
  leaderboard = await startLeaderboard({
    database: join(dir, 'lb.db'),
    token: '9b'.repeat(32),
    natsUrl: nats.url,
    log: (level, message, fields) => {
      if (level === 'warn') warnings.push({ message, fields });
    },
  });
  leaderboard.store.registerSweep({ ...ADDRESS, specJson: '{}', trialCount: 1 });
  connection = await connectBus({ servers: nats.url });
}, 60_000);

afterAll(async () => {
  await connection?.close();
  await leaderboard?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const storedSteps = () =>
  leaderboard.store
    .sweepPointsSince({ namespace: 'lab', sweep: 'study', sinceId: 0, limit: 10_000 })
    .map((point) => point.step)
    .sort((a, b) => a - b);

describe('the NATS ingest against a hostile publisher', () => {
  it('stores every good event once, drops what the store refuses, and goes on', async () => {
    const js = connection.jetstream();
    const publisher = new EventPublisher({ connection });
    await publisher.publishMetric(metric(0));
    await js.publish(SUBJECT, new TextEncoder().encode('not protobuf'));
    await js.publish(SUBJECT, MetricEventBatch.encode({ events: [metric(1)] }).subarray(0, 9));
    // Another trial's event on this trial's subject.
    await js.publish(SUBJECT, MetricEventBatch.encode({ events: [metric(2, { trial: 'x' })] }));
    // One batch: good events around ones the store refuses (a time past 9999, a uint32 -1
    // attempt, a metric name with a quote). The good ones are stored all the same.
    await js.publish(
      SUBJECT,
      MetricEventBatch.encode({
        events: [
          metric(3),
          metric(4, { wallTimeMs: 8.64e15 + 1 }),
          metric(5, { attempt: 2 ** 32 - 1 }),
          metric(6, { values: { 'lo"ss': 1 } }),
          metric(7),
        ],
      }),
    );
    // The same good event twice, in two messages.
    await js.publish(SUBJECT, MetricEventBatch.encode({ events: [metric(8)] }));
    await js.publish(SUBJECT, MetricEventBatch.encode({ events: [metric(8)] }));
    await publisher.publishMetric(metric(9));
    await publisher.flush();

    await expect.poll(storedSteps, { timeout: 20_000 }).toEqual([0, 3, 7, 8, 9]);
    const reasons = warnings.map((w) => w.message);
    expect(reasons.filter((m) => m === 'terminated an event that cannot be decoded')).toHaveLength(
      3,
    );
    expect(reasons.filter((m) => m === 'dropped a metric event the store refuses')).toHaveLength(3);

    // Still ingesting.
    await publisher.publishMetric(metric(10));
    await expect.poll(storedSteps, { timeout: 20_000 }).toEqual([0, 3, 7, 8, 9, 10]);
    await publisher.close();
  }, 60_000);
});
