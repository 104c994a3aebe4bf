/**
 * `masksweep-leaderboard` as an operator starts it: `--help` does not start the service, a
 * start-up problem is one line, and a NATS that is not up yet is waited for, saying so.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer } from '@masksweep/process';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/masksweep-leaderboard.js', import.meta.url));
const TOKEN = 'a1'.repeat(32);

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'leaderboard-main-'));
  dirs.push(dir);
  return {
    PATH: process.env.PATH,
    MASKSWEEP_LEADERBOARD_TOKEN: TOKEN,
    MASKSWEEP_LEADERBOARD_DB: join(dir, 'leaderboard.db'),
    MASKSWEEP_LEADERBOARD_GRPC: '127.0.0.1:0',
    MASKSWEEP_LEADERBOARD_HTTP_PORT: '0',
    MASKSWEEP_LEADERBOARD_HTTP_HOST: '127.0.0.1',
    ...extra,
  };
}

describe('masksweep-leaderboard', () => {
  it('prints its usage for --help and starts nothing', () => {
    const { status, stdout, stderr } = spawnSync(process.execPath, [BIN, '--help'], {
      encoding: 'utf8',
      // Without a token it would refuse to start: --help must not get that far.
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    expect(status).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Usage: masksweep-leaderboard\n/);
    expect(stdout).toContain('MASKSWEEP_LEADERBOARD_TOKEN');
  });

  it('refuses an argument in one line', () => {
    const { status, stderr } = spawnSync(process.execPath, [BIN, '--port', '1'], {
      encoding: 'utf8',
      env: environment({}),
      timeout: 30_000,
    });
    expect(status).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      "masksweep-leaderboard: unknown argument '--port'; the environment configures it (see --help)",
    ]);
  });

  it('says in one line why it cannot start, without a stack', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const { status, stderr } = spawnSync(process.execPath, [BIN], {
        encoding: 'utf8',
        env: environment({ MASKSWEEP_LEADERBOARD_GRPC: `127.0.0.1:${port}` }),
        timeout: 60_000,
      });
      expect(status).toBe(1);
      // The service's log is JSON lines on stderr; what is not a log line is the one line.
      const plain = stderr
        .trimEnd()
        .split('\n')
        .filter((line) => !line.startsWith('{"level":'));
      expect(plain).toEqual([
        expect.stringMatching(
          new RegExp(`^masksweep-leaderboard: cannot start: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`),
        ),
      ]);
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });

  it('waits for a NATS that is not up yet, saying so, and starts when it comes', async () => {
    const nats = await startNatsServer();
    try {
      await nats.kill(); // its port stays known: nothing listens there now
      const child = spawn(process.execPath, [BIN], {
        env: environment({ MASKSWEEP_NATS_URL: nats.url }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr?.on('data', (chunk) => {
        output += chunk;
      });
      await expect
        .poll(() => output, { timeout: 30_000, interval: 100 })
        .toContain(`waiting for NATS at ${nats.url} (CONNECTION_REFUSED)`);
      expect(output).not.toContain('leaderboard started');
      expect(child.exitCode).toBeNull();

      await nats.restart();
      await expect
        .poll(() => output, { timeout: 60_000, interval: 100 })
        .toContain('leaderboard started');
      expect(output).not.toMatch(/NatsError|\n\s+at /);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      await nats.stop();
    }
  }, 120_000);
});
