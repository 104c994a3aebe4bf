import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Leaderboard, startLeaderboard } from '@masksweep/leaderboard';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';

let leaderboard: Leaderboard;
let server: string;
let out: string[];

/**
 * A result of `study` in grid `tables` as the store takes it: config fields, test and
 * validation f1, the 2x2 matrix of its test predictions, and test predictions on 10 images (5 positive) that miss
 * `missed` positives.
 */
function report(
  trial: string,
  augmentation: string,
  seed: number,
  f1: number,
  valF1: number,
  missed = 0,
) {
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
      grids: ['tables'],
    },
    // The tally of the predictions below (row label, column predicted).
    confusionMatrix: { numClasses: 2, counts: [5, 0, missed, 5 - missed] },
    metrics: { f1, recall: f1, precision: f1, accuracy: f1 },
    valMetrics: { f1: valF1 },
    predictions: Array.from({ length: 10 }, (_, i) => ({
      sampleId: `ct_${i}`,
      label: i < 5 ? 1 : 0,
      predicted: i < 5 && i >= missed ? 1 : 0,
      probabilities: [],
    })),
    artifacts: [],
    finishedAtMs: Date.now(),
    durationSeconds: 1,
  });
}

beforeAll(async () => {
  leaderboard = await startLeaderboard({
    database: join(mkdtempSync(join(tmpdir(), 'cli-lb-')), 'lb.db'),
    token: 'cli-test-write-token-of-at-least-43-characters',
  });
  server = `127.0.0.1:${leaderboard.grpcPort}`;
  leaderboard.store.registerSweep({
    namespace: 'default',
    sweep: 'study',
    specJson: '{}',
    trialCount: 4,
  });
  // Validation ranks them the other way round from test. The predictions of none miss 1
  // and 2 of the 5 positives (test F1 8/9 and 6/8), those of cutmix none (F1 1).
  report('study-a0', 'none', 0, 0.5, 0.9, 1);
  report('study-a1', 'none', 1, 0.7, 0.8, 2);
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
    // Filters on a config path and a metric range; a sort on a config path.
    const filtered = await ranked(
      ...['--sort', 'config.seed', '--filter', 'augmentation.type=cutmix'],
      ...['--metric-filter', 'val_f1=>=0.55'],
    );
    expect(filtered.trials).toEqual(['study-b0']);
    expect((await ranked('--sort', 'config.seed', '--ascending')).trials).toEqual([
      'study-a0',
      'study-b0',
      'study-a1',
      'study-b1',
    ]);
  });

  it('prints the tables of each grid, the best row chosen on validation, and the ranking with the trivial rows', async () => {
    expect(await main(['report', 'study', '--server', server])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(
      /#### SparK · Mesh 60%\n\n\| Augmentation \| test PRECISION \| test RECALL \| test F1 \| val F1 \| n \|/,
    );
    // none: test F1 (8/9 + 6/8) / 2 = 81.9, the best val F1 (85.0): bold; cutmix 100.0.
    expect(text).toMatch(
      /\| \*\*None\*\* \| [^|]+ \| [^|]+ \| 81\.9 \[[\d.]+, [\d.]+\] \| \*\*85\.0\*\* \| 2 \|/,
    );
    expect(text).toMatch(
      /\| CutMix \| 100\.0 \[100\.0, 100\.0\] \| 100\.0 \[100\.0, 100\.0\] \| 100\.0 \[100\.0, 100\.0\] \| 55\.0 \| 2 \|/,
    );
    expect(text).toMatch(/\| \*Majority class \(0\)\* \| 0\.0 \[0\.0, 0\.0\] \|/);
    expect(text).toMatch(/\| \*Always positive \(1\)\* \| 50\.0 \[/);
    expect(text).toContain('Test set: 10 images × 2 seeds.');
    expect(text).toMatch(
      /### Every config, by mean val F1\n\n\| # \| Config \| val F1 \| test ACCURACY \| test PRECISION \| test RECALL \| test F1 \| n \|\n\|[-|]+\|\n\| 1 \| SparK · Mesh 60% · None \| 85\.0 \|/,
    );
    expect(text).toMatch(/\| {2}\| \*Always positive \(1\) \(trivial\)\* \| — \|/);
    for (const [, low, high] of text.matchAll(/\[(-?[\d.]+), (-?[\d.]+)\]/g)) {
      expect(Number(low)).toBeGreaterThanOrEqual(0);
      expect(Number(high)).toBeLessThanOrEqual(100);
    }

    out = [];
    expect(await main(['report', 'study', '--format', 'csv', '--server', server])).toBe(0);
    const [header, ...lines] = out.join('\n').split('\n');
    const columns = (header ?? '').split(',');
    const row = (table: string, label: string) => {
      const cells = lines
        .find((l) => l.includes(`,${table},`) && l.includes(`,${label},`))
        ?.split(',');
      return (name: string) => cells?.[columns.indexOf(name)];
    };
    const none = row('SparK · Mesh 60%', 'None');
    expect(none('row_kind')).toBe('config');
    expect(none('chosen_on_validation')).toBe('true');
    expect(none('seeds')).toBe('0;1');
    const perSeed = none('test_f1_per_seed')?.split(';').map(Number) ?? [];
    expect(perSeed).toHaveLength(2);
    expect(perSeed[0]).toBeCloseTo(8 / 9, 12);
    expect(perSeed[1]).toBeCloseTo(6 / 8, 12);
    expect(Number(none('test_f1'))).toBeCloseTo((8 / 9 + 6 / 8) / 2, 12);
    expect(Number(none('test_f1_ci_low'))).toBeGreaterThanOrEqual(0);
    expect(Number(none('test_f1_ci_high'))).toBeLessThanOrEqual(1);
    expect(Number(none('val_objective_mean'))).toBeCloseTo(0.85, 12);
    expect(row('SparK · Mesh 60%', 'Majority class (0)')('row_kind')).toBe('trivial');
    expect(row('ranking', 'Always positive (1)')('test_recall')).toBe('1');
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
