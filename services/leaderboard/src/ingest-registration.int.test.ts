/**
 * The leaderboard stores curves only of registered sweeps: on a real nats-server, events of
 * a registered sweep are stored, those of a sweep registered shortly after them wait for
 * it, and those of a sweep never registered are terminated, counted and logged once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectBus, EVENTS_STREAM, EventPublisher, ensureStream } from '@masksweep/bus';
import type { LogLevel } from '@masksweep/log';
import { MetricKind, Stage } from '@masksweep/proto';
import { type NatsServer, startNatsServer } from '@masksweep/testing';
import type { NatsConnection } from 'nats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestMetrics } from './ingest.js';
import { Metrics } from './metrics.js';
import { openStore, type Store } from './store/store.js';

let nats: NatsServer;
let connection: NatsConnection;
let store: Store;
let dir: string;
beforeEach(async () => {
  nats = await startNatsServer();
  connection = await connectBus({ servers: nats.url });
  await ensureStream(connection);
  dir = mkdtempSync(join(tmpdir(), 'ingest-registration-'));
  store = openStore({ path: join(dir, 'lb.db') });
});
afterEach(async () => {
  await connection.close();
  await nats.stop();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Publishes `steps` loss points for each trial of the sweep, one message per event. */
async function publish(sweep: string, trials: string[], steps: number): Promise<void> {
  const publisher = new EventPublisher({ connection, maxBatchEvents: 1 });
  const sent: Promise<void>[] = [];
  for (const trial of trials) {
    for (let step = 0; step < steps; step++) {
      sent.push(
        publisher.publishMetric({
          namespace: 'research',
          sweep,
          trial,
          attempt: 1,
          stage: Stage.STAGE_PRETRAIN,
          kind: MetricKind.METRIC_KIND_TRAIN,
          step,
          epoch: 0,
          values: { loss: 1 / (step + 1) },
          wallTimeMs: 1_767_225_600_000 + step,
        }),
      );
    }
  }
  await Promise.all(sent);
  await publisher.close();
}

function register(sweep: string): void {
  store.registerSweep({ namespace: 'research', sweep, specJson: '{}', trialCount: 2 });
}

function storedPoints(sweep: string): number {
  return store.sweepPointsSince({ namespace: 'research', sweep, sinceId: 0, limit: 10_000 }).length;
}

async function refusedCount(metrics: Metrics): Promise<number> {
  const metric = await metrics.metricEventsRefused.get();
  return metric.values.find((v) => v.labels.reason === 'unregistered_sweep')?.value ?? 0;
}

describe('metric events of unregistered sweeps', () => {
  it('stores a registered sweep, waits for a late registration, and refuses a sweep never registered', async () => {
    const metrics = new Metrics();
    const logged: { level: LogLevel; message: string; fields?: Record<string, unknown> }[] = [];
    register('registered');
    const consumer = await ingestMetrics({
      connection,
      store,
      metrics,
      unregisteredGraceMs: 2_000,
      // Ten deliveries (the bus's maxDeliver) would take 4 s: the grace ends the wait first.
      retryDelaysMs: [400],
      log: (level, message, fields) => logged.push({ level, message, fields }),
    });
    try {
      await publish('registered', ['registered-0'], 5);
      await publish('late', ['late-0'], 4);
      const strayPublished = Date.now();
      await publish('stray', ['stray-0', 'stray-1'], 3);
      await expect.poll(() => storedPoints('registered'), { timeout: 10_000 }).toBe(5);
      // Registered after its events were published: they come again until it is.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(storedPoints('late')).toBe(0);
      register('late');
      await expect.poll(() => storedPoints('late'), { timeout: 10_000 }).toBe(4);

      // Never registered: terminated once the grace has passed, each event counted.
      await expect.poll(() => refusedCount(metrics), { timeout: 15_000 }).toBe(6);
      expect(Date.now() - strayPublished).toBeGreaterThanOrEqual(2_000);
      register('stray'); // too late: the events are gone
      const manager = await connection.jetstreamManager();
      await expect
        .poll(async () => {
          const info = await manager.consumers.info(EVENTS_STREAM, 'leaderboard');
          return [info.num_ack_pending, info.num_pending];
        })
        .toEqual([0, 0]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(storedPoints('stray')).toBe(0);
      expect(await refusedCount(metrics)).toBe(6);
      const refusals = logged.filter((entry) => entry.message.startsWith('refused metric events'));
      expect(refusals).toEqual([
        {
          level: 'warn',
          message: expect.stringContaining('not registered'),
          fields: { namespace: 'research', sweep: 'stray', graceMs: 2_000 },
        },
      ]);
    } finally {
      await consumer.stop();
    }
  }, 60_000);
});
