/**
 * Nothing lost, nothing twice: 100,000 metric events from three publishers (with repeats)
 * while the leaderboard process is killed with SIGKILL and restarted, and nats-server is
 * restarted under the publishers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectBus, EventPublisher, ensureStream } from '@masksweep/bus';
import { MetricKind, Stage } from '@masksweep/proto';
import { startNatsServer } from '@masksweep/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './store/store.js';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

function startLeaderboardProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=masksweep-source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main();`,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk;
      if (output.includes('leaderboard started')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`leaderboard exited ${code}: ${output}`)));
  });
}

describe('metric curves through NATS into the leaderboard', () => {
  it('stores 100,000 events exactly once across a SIGKILL of the leaderboard and a NATS restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-'));
    const nats = await startNatsServer();
    const env = {
      MASKSWEEP_LEADERBOARD_DB: join(dir, 'lb.db'),
      MASKSWEEP_LEADERBOARD_TOKEN: 'ingest-test-token-of-43-characters-or-more!',
      MASKSWEEP_LEADERBOARD_GRPC: '127.0.0.1:0',
      MASKSWEEP_LEADERBOARD_HTTP_PORT: '0',
      MASKSWEEP_LEADERBOARD_HTTP_HOST: '127.0.0.1',
      MASKSWEEP_NATS_URL: nats.url,
    };
    // The leaderboard stores the curves of registered sweeps only.
    const registration = openStore({ path: env.MASKSWEEP_LEADERBOARD_DB });
    registration.registerSweep({
      namespace: 'default',
      sweep: 'load',
      specJson: '{}',
      trialCount: 150,
    });
    registration.close();
    let leaderboard = await startLeaderboardProcess(env);

    const publishers = 3;
    const perPublisher = 33_334;
    const connections = await Promise.all(
      Array.from({ length: publishers }, () => connectBus({ servers: nats.url })),
    );
    const first = connections[0];
    if (!first) throw new Error('no connection');
    await ensureStream(first);
    const sent = connections.map(async (connection, p) => {
      const publisher = new EventPublisher({ connection, capacity: 50_000 });
      const pending: Promise<void>[] = [];
      for (let i = 0; i < perPublisher; i++) {
        const event = {
          namespace: 'default',
          sweep: 'load',
          trial: `load-${p}-${i % 50}`,
          attempt: 1,
          stage: Stage.STAGE_PRETRAIN,
          kind: MetricKind.METRIC_KIND_TRAIN,
          step: Math.floor(i / 50),
          epoch: 0,
          values: { loss: 1 / (i + 1) },
          wallTimeMs: Date.now(),
        };
        pending.push(publisher.publishMetric(event));
        // every 20th event is sent again, as a retrying trial would
        if (i % 20 === 0) pending.push(publisher.publishMetric(event));
        if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(pending);
      await publisher.close();
    });
    const total = publishers * perPublisher;

    const stored = () => {
      const db = new Database(env.MASKSWEEP_LEADERBOARD_DB, {
        readonly: true,
        fileMustExist: true,
      });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM metric_points').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    // Kill the leaderboard once it has stored some of the events, restart NATS, start it again.
    await expect.poll(stored, { timeout: 60_000, interval: 100 }).toBeGreaterThan(5_000);
    leaderboard.kill('SIGKILL');
    await new Promise((resolve) => leaderboard.once('exit', resolve));
    const atKill = stored();
    await nats.restart();
    leaderboard = await startLeaderboardProcess(env);
    await Promise.all(sent);
    await expect.poll(stored, { timeout: 120_000, interval: 250 }).toBe(total);
    // and nothing more arrives later
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(stored()).toBe(total);
    expect(atKill).toBeLessThan(total);

    leaderboard.kill('SIGTERM');
    await new Promise((resolve) => leaderboard.once('exit', resolve));
    await Promise.all(connections.map((c) => c.drain()));
    await nats.stop();
  }, 240_000);
});
