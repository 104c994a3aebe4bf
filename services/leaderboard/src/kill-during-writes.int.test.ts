/**
 * The leaderboard process killed with SIGKILL in the middle of a burst of ReportResult calls
 * and started again on the same file: every write it acknowledged is there, every result
 * there is whole (all its predictions and artifacts), and the writes in flight at the kill,
 * sent again, are stored once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import {
  createLeaderboardClient,
  type LeaderboardClient,
  type MessageInit,
  type TrialResult,
} from '@masksweep/proto';
import { freePort } from '@masksweep/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { resultFixture } from './store/fixtures.test-support.js';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const TOKEN = '7e'.repeat(32);
const PREDICTIONS = 300;
const WRITERS = 6;
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'leaderboard-kill-'));
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startLeaderboardProcess(grpcPort: number): Promise<ChildProcess> {
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
    {
      env: {
        ...process.env,
        MASKSWEEP_LEADERBOARD_DB: join(dir, 'lb.db'),
        MASKSWEEP_LEADERBOARD_TOKEN: TOKEN,
        MASKSWEEP_LEADERBOARD_GRPC: `127.0.0.1:${grpcPort}`,
        MASKSWEEP_LEADERBOARD_HTTP_PORT: '0',
        MASKSWEEP_LEADERBOARD_HTTP_HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
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

const writer = () => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  return { metadata, deadline: Date.now() + 20_000 };
};

/** The i-th result of the burst: its own seed, so each is a new (config, seed). */
function burstResult(i: number) {
  const predictions = Array.from({ length: PREDICTIONS }, (_, p) => ({
    sampleId: `img-${p}`,
    label: p % 2,
    predicted: (p * 7 + i) % 3 === 0 ? 1 - (p % 2) : p % 2,
    probabilities: [0.25, 0.75],
  }));
  return resultFixture({
    sweep: 'burst',
    trial: `burst-${i}`,
    seed: i,
    predictions,
    artifacts: [
      { name: 'gradcam', uri: `burst-${i}/gradcam.png`, mediaType: 'image/png' },
      { name: 'log', uri: `burst-${i}/log.txt`, mediaType: 'text/plain' },
    ],
  }) as MessageInit<TrialResult>;
}

describe('the leaderboard killed during a burst of writes', () => {
  it('keeps every acknowledged result whole, and a re-sent one once', async () => {
    const port = await freePort();
    let leaderboard = await startLeaderboardProcess(port);
    let client: LeaderboardClient = createLeaderboardClient(`127.0.0.1:${port}`);
    await client.registerSweep(
      { namespace: 'default', sweep: 'burst', specJson: '{}', trialCount: 10_000 },
      writer(),
    );

    const acknowledged = new Set<number>();
    const sent = new Set<number>();
    let next = 0;
    let killed = false;
    // Writers send one result after another until the kill cuts their calls off.
    const writers = Array.from({ length: WRITERS }, async () => {
      while (!killed) {
        const i = next++;
        sent.add(i);
        try {
          const answer = await client.reportResult({ result: burstResult(i) }, writer());
          expect(answer.stored).toBe(true);
          acknowledged.add(i);
        } catch (error) {
          if (!killed) throw error;
        }
      }
    });
    while (acknowledged.size < 60) await new Promise((resolve) => setTimeout(resolve, 5));
    killed = true;
    leaderboard.kill('SIGKILL');
    await Promise.all(writers);
    await new Promise((resolve) => leaderboard.once('exit', resolve));
    client.close();
    const inFlight = [...sent].filter((i) => !acknowledged.has(i));
    expect(inFlight.length).toBeGreaterThan(0);

    leaderboard = await startLeaderboardProcess(port);
    client = createLeaderboardClient(`127.0.0.1:${port}`);
    const listed = await client.listResults({
      namespace: 'default',
      sweep: 'burst',
      includePredictions: true,
      pageSize: 1000,
    });
    const stored = new Map(listed.results.map((r) => [Number(r.trial.slice('burst-'.length)), r]));
    for (const i of acknowledged) expect(stored.has(i), `acknowledged burst-${i}`).toBe(true);
    // Whatever is there is whole: no result without its predictions or artifacts.
    for (const [i, result] of stored) {
      expect(sent.has(i)).toBe(true);
      expect(result.predictions, `burst-${i}`).toHaveLength(PREDICTIONS);
      expect(result.artifacts.map((a) => a.name)).toEqual(['gradcam', 'log']);
      expect(result.confusionMatrix?.counts).toEqual(burstResult(i).confusionMatrix?.counts);
    }

    // A trial-runner retries what was not acknowledged: stored now, or already there.
    for (const i of inFlight) {
      const answer = await client.reportResult({ result: burstResult(i) }, writer());
      expect(answer.stored, `burst-${i}`).toBe(!stored.has(i));
    }
    const after = await client.listResults({
      namespace: 'default',
      sweep: 'burst',
      pageSize: 1000,
    });
    expect(after.totalCount).toBe(sent.size);
    client.close();
    leaderboard.kill('SIGTERM');
    await new Promise((resolve) => leaderboard.once('exit', resolve));
  }, 120_000);
});
