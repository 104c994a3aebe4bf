/**
 * A writer killed with SIGKILL in the middle of its work: every transaction it committed is
 * in the file exactly once after re-opening, and none is half there.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetricKind, Stage } from '@masksweep/proto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openStore } from './store.js';

const EVENTS_PER_BATCH = 200;
const VALUES_PER_EVENT = 2;
const storeModule = fileURLToPath(new URL('./store.ts', import.meta.url));
const fixturesModule = fileURLToPath(new URL('./fixtures.test-support.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'leaderboard-crash-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const WRITER = `
import { openStore } from ${JSON.stringify(storeModule)};
import { resultFixture } from ${JSON.stringify(fixturesModule)};
const store = openStore({ path: process.argv[2] });
store.registerSweep({ namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 0 });
for (let batch = 0; ; batch++) {
  const events = Array.from({ length: ${EVENTS_PER_BATCH} }, (_, i) => ({
    namespace: 'default', sweep: 'study', trial: 'trial-' + (batch % 3), attempt: 1, stage: 2,
    kind: 1, step: batch * ${EVENTS_PER_BATCH} + i, epoch: batch, values: { loss: 1 / (i + 1), lr: 0.1 },
    wallTimeMs: Date.now(),
  }));
  store.insertMetricEvents(events);
  store.reportResult(resultFixture({ trial: 'result-' + batch, seed: batch }));
  // Printed after both commits: the parent knows this batch is stored.
  process.stdout.write(batch + '\\n');
}
`;

it('keeps every committed batch of a killed writer exactly once', async () => {
  const path = join(dir, 'leaderboard.db');
  const writer = join(dir, 'writer.ts');
  writeFileSync(writer, WRITER);
  const child = spawn(
    process.execPath,
    ['--conditions=masksweep-source', '--import', 'tsx', writer, path],
    { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let lastCommitted = -1;
  await new Promise<void>((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) lastCommitted = Number(line);
      if (lastCommitted >= 30 && child.exitCode === null && !child.killed) {
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited with ${code}: ${stderr}`)),
    );
  });
  expect(lastCommitted).toBeGreaterThanOrEqual(30);

  const store = openStore({ path });
  const points = store.sweepPointsSince({
    namespace: 'default',
    sweep: 'study',
    sinceId: 0,
    limit: 100_000,
  });
  const perBatch = new Map<number, number>();
  for (const point of points) {
    const batch = Math.floor(point.step / EVENTS_PER_BATCH);
    perBatch.set(batch, (perBatch.get(batch) ?? 0) + 1);
  }
  const full = EVENTS_PER_BATCH * VALUES_PER_EVENT;
  for (let batch = 0; batch <= lastCommitted; batch++) {
    expect(perBatch.get(batch), `points of batch ${batch}`).toBe(full);
    expect(store.getResult('default', `result-${batch}`)?.config.seed).toBe(batch);
  }
  // A batch the kill interrupted is all there or not at all.
  for (const [batch, count] of perBatch) {
    if (batch > lastCommitted) expect([0, full]).toContain(count);
  }
  const results = store.listResults({ namespace: 'default', sweep: 'study', pageSize: 1000 });
  expect(results.totalCount).toBeGreaterThanOrEqual(lastCommitted + 1);
  expect(results.totalCount).toBeLessThanOrEqual(lastCommitted + 2);
  // Redelivered after the restart, the first batch adds nothing.
  const again = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
    namespace: 'default',
    sweep: 'study',
    trial: 'trial-0',
    attempt: 1,
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_TRAIN,
    step: i,
    epoch: 0,
    values: { loss: 1, lr: 0.1 },
    wallTimeMs: 0,
  }));
  expect(store.insertMetricEvents(again)).toBe(0);
  store.close();
}, 60_000);
