import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Leaderboard, startLeaderboard } from '@masksweep/leaderboard';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';

let leaderboard: Leaderboard;
let server: string;
let out: string[];

/** A result of `study` as the store takes it: config fields, test and validation f1, a 2x2 matrix. */
function report(trial: string, augmentation: string, seed: number, f1: number, valF1: number) {
  const config = {
    method: 'spark',
    mask: { type: 'mesh', ratio: 0.6 },
    augmentation: { type: augmentation },
    seed,
  };
  leaderboard.store.reportResult({
    namespace: 'default',
    sweep: 'study',
    trial,
    attempt: 1,
    config: {
      configKey: `cfg-${augmentation}`,
      method: 'spark',
      maskType: 'mesh',
      maskRatio: 0.6,
      maskSize: 0,
      augmentation,
      seed,
      pretrainKey: 'pt-1',
      configJson: JSON.stringify(config),
    },
    confusionMatrix: { numClasses: 2, counts: [8, 2, 2, 8] },
    metrics: { f1, recall: f1, precision: f1, accuracy: f1 },
    valMetrics: { f1: valF1 },
    predictions: [],
    artifacts: [],
    finishedAtMs: Date.now(),
    durationSeconds: 1,
  });
}

beforeAll(async () => {
  leaderboard = await startLeaderboard({
    database: join(mkdtempSync(join(tmpdir(), 'cli-lb-')), 'lb.db'),
    token: 't',
  });
  server = `127.0.0.1:${leaderboard.grpcPort}`;
  leaderboard.store.registerSweep({
    namespace: 'default',
    sweep: 'study',
    specJson: '{}',
    trialCount: 4,
  });
  // Validation ranks them the other way round from test.
  report('study-a0', 'none', 0, 0.5, 0.9);
  report('study-a1', 'none', 1, 0.7, 0.8);
  report('study-b0', 'cutmix', 0, 0.8, 0.6);
  report('study-b1', 'cutmix', 1, 0.9, 0.5);
});
afterAll(async () => {
  await leaderboard?.close();
});
beforeEach(() => {
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...args) => void out.push(args.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('masksweep leaderboard and report over gRPC', () => {
  it('ranks the results by validation F1, best first, and labels each column by its split', async () => {
    const ranked = async (...sort: string[]) => {
      out = [];
      expect(await main(['leaderboard', '--sweep', 'study', '--server', server, ...sort])).toBe(0);
      const lines = out.join('\n').split('\n');
      return {
        header: lines.find((line) => line.startsWith('TRIAL')) ?? '',
        trials: lines.filter((line) => line.startsWith('study-')).map((row) => row.split(/\s+/)[0]),
      };
    };
    const byValidation = await ranked();
    expect(byValidation.trials).toEqual(['study-a0', 'study-a1', 'study-b0', 'study-b1']);
    expect(byValidation.header).toMatch(
      /SEED\s+VAL F1\s+TEST F1\s+TEST RECALL\s+TEST PRECISION\s+TEST ACCURACY/,
    );
    // Test F1 sorts when asked for by name.
    expect((await ranked('--sort', 'f1')).trials).toEqual([
      'study-b1',
      'study-b0',
      'study-a1',
      'study-a0',
    ]);
  });

  it("prints the paper's method x augmentation table with means and 95 % intervals over seeds", async () => {
    expect(await main(['report', 'study', '--server', server])).toBe(0);
    const text = out.join('\n');
    // none: mean 0.6 of 0.5 and 0.7; t(0.975, 1) = 12.706, sd 0.1414 -> half-width 1.2706
    expect(text).toMatch(/\| None \| 60\.0 \[-?\d+\.\d, \d+\.\d\] \|/);
    expect(text).toMatch(/\| CutMix \| \*\*85\.0\*\* /);
    const csv = await (async () => {
      out = [];
      expect(await main(['report', 'study', '--format', 'csv', '--server', server])).toBe(0);
      return out.join('\n');
    })();
    const none = csv.split('\n').find((line) => line.includes(',None,'));
    const cells = none?.split(',') ?? [];
    // precision, its low and high: 0.6 -/+ 12.706 * 0.14142 / sqrt(2)
    expect(Number(cells[2])).toBeCloseTo(0.6, 10);
    expect(Number(cells[3])).toBeCloseTo(0.6 - 1.27062, 4);
    expect(Number(cells[4])).toBeCloseTo(0.6 + 1.27062, 4);
  });

  it('watch prints each result as it is stored, with the leaders so far', async () => {
    const watching = main(['watch', 'study', '--server', server]);
    await expect.poll(() => out.join('\n')).toMatch(/watching default\/study/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    report('study-c0', 'mixup', 0, 0.95, 0.4);
    await expect
      .poll(() => out.join('\n'), { timeout: 5_000 })
      .toMatch(/study-c0 attempt 1: val F1 40\.0, test F1 95\.0/);
    process.emit('SIGINT');
    expect(await watching).toBe(0);
  });

  it('names an unknown sweep in one line, and says when a sweep has no results', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args.join(' ')));
    expect(await main(['report', 'nothing', '--server', server])).toBe(1);
    expect(errors.join('\n')).toMatch(/^masksweep: .*NOT_FOUND.*nothing/);
    leaderboard.store.registerSweep({
      namespace: 'default',
      sweep: 'empty',
      specJson: '{}',
      trialCount: 1,
    });
    expect(await main(['report', 'empty', '--server', server])).toBe(2);
    expect(errors.join('\n')).toMatch(/empty has no results/);
  });
});
