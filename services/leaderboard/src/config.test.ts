/** The service's settings: the write token must carry 32 random bytes, said in one line. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, leaderboardConfig } from './config.js';
import { startLeaderboard } from './leaderboard.js';
import { main } from './main.js';

const HEX_32_BYTES = '9a'.repeat(32);
const BASE64_32_BYTES = 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8='; // openssl rand -base64 32

describe('the write token', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it.each([
    ['one character', 'x', /has 1 characters; it needs 32 random bytes/],
    [
      'openssl rand -hex 24',
      '9a'.repeat(24),
      /has 48 hex digits; it needs 32 random bytes: 64 hex/,
    ],
    ['42 characters', 'y'.repeat(42), /has 42 characters/],
  ])('refuses %s at start-up, naming the variable, in one line', (_name, token, reason) => {
    const refuse = () => leaderboardConfig({ MASKSWEEP_LEADERBOARD_TOKEN: token });
    expect(refuse).toThrow(ConfigError);
    expect(refuse).toThrow(/^MASKSWEEP_LEADERBOARD_TOKEN: the write token /);
    expect(refuse).toThrow(reason);
    expect(refuse).toThrow(/openssl rand -hex 32/);
  });

  it('names the token file when the token came from it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'leaderboard-config-')), 'token');
    writeFileSync(file, 'short\n');
    expect(() => leaderboardConfig({ MASKSWEEP_LEADERBOARD_TOKEN_FILE: file })).toThrow(
      /^MASKSWEEP_LEADERBOARD_TOKEN_FILE: the write token has 5 characters/,
    );
  });

  it('takes 64 hex digits or 43 base64 characters', () => {
    for (const token of [HEX_32_BYTES, BASE64_32_BYTES])
      expect(leaderboardConfig({ MASKSWEEP_LEADERBOARD_TOKEN: token }).token).toBe(token);
  });

  it('is checked by startLeaderboard too', async () => {
    const database = join(mkdtempSync(join(tmpdir(), 'leaderboard-config-')), 'lb.db');
    await expect(startLeaderboard({ database, token: 'test-token' })).rejects.toThrow(
      /^token: the write token has 10 characters/,
    );
  });

  it('makes masksweep-leaderboard exit 2 with one line, no stack', async () => {
    vi.stubEnv('MASKSWEEP_LEADERBOARD_TOKEN', 'secret');
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    expect(await main()).toBe(2);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(
      /^masksweep-leaderboard: MASKSWEEP_LEADERBOARD_TOKEN: the write token has 6 characters[^\n]*\n$/,
    );
  });
});

describe('the statistics pool settings', () => {
  it('reads the threads and the pending limit, or leaves the defaults', () => {
    const base = { MASKSWEEP_LEADERBOARD_TOKEN: HEX_32_BYTES };
    expect(leaderboardConfig(base).statistics).toEqual({
      threads: undefined,
      maxPending: undefined,
    });
    expect(
      leaderboardConfig({
        ...base,
        MASKSWEEP_LEADERBOARD_STATISTICS_THREADS: '2',
        MASKSWEEP_LEADERBOARD_STATISTICS_PENDING: '12',
      }).statistics,
    ).toEqual({ threads: 2, maxPending: 12 });
  });

  it('refuses a count that is not a whole number of 1 or more, naming the variable', () => {
    for (const text of ['0', '1.5', 'two'])
      expect(() =>
        leaderboardConfig({
          MASKSWEEP_LEADERBOARD_TOKEN: HEX_32_BYTES,
          MASKSWEEP_LEADERBOARD_STATISTICS_THREADS: text,
        }),
      ).toThrow(/^MASKSWEEP_LEADERBOARD_STATISTICS_THREADS: must be a whole number of 1 or more/);
  });
});
