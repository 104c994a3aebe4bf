/** Which answers of the leaderboard the trial-runner retries and which end its report. */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { retryUntilFinal } from './reporter.js';

const answer = (code: grpc.status) =>
  Object.assign(new Error(`${code} ${grpc.status[code]}: no`), { code });

describe('retryUntilFinal', () => {
  it.each([grpc.status.INVALID_ARGUMENT, grpc.status.ALREADY_EXISTS, grpc.status.UNAUTHENTICATED])(
    'gives up at once on a final answer (%s), not after ten minutes of retries',
    async (code) => {
      let calls = 0;
      const started = Date.now();
      await expect(
        retryUntilFinal(
          'ReportResult',
          async () => {
            calls += 1;
            throw answer(code);
          },
          { timeoutMs: 600_000 },
        ),
      ).rejects.toThrow(`ReportResult failed: ${code} ${grpc.status[code]}`);
      expect(calls).toBe(1);
      expect(Date.now() - started).toBeLessThan(1000);
    },
  );

  it('retries a leaderboard that is away, until it answers', async () => {
    let calls = 0;
    const lines: string[] = [];
    await retryUntilFinal(
      'ReportResult',
      async () => {
        calls += 1;
        if (calls < 3) throw answer(grpc.status.UNAVAILABLE);
      },
      { timeoutMs: 10_000, log: (line) => lines.push(line) },
    );
    expect(calls).toBe(3);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/UNAVAILABLE: no\); retrying in 200 ms/);
  });
});
