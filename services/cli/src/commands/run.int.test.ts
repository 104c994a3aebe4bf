import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TinySweepOptions, tinySweepYaml } from '@masksweep/api/test-support';
import { openStore } from '@masksweep/leaderboard';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';

/** 2 trials (two augmentations) sharing one pre-training key; tiny model, phantoms. */
const tiny = {
  splits: { train: 0.5, val: 0.25, test: 0.25 },
  masks: [{ type: 'mesh', ratios: [0.5] }],
  augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
  parallelism: 2,
} satisfies TinySweepOptions;
/** The same and a scratch trial beside them: one more fine-tuning, and no pre-training. */
const SWEEP = tinySweepYaml('tiny', {
  ...tiny,
  spec: {
    grids: [
      { methods: ['spark'], masks: tiny.masks, augmentations: tiny.augmentations },
      { methods: ['scratch'] },
    ],
  },
});

let out: string[];
beforeEach(() => {
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...args) => void out.push(args.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('masksweep run', () => {
  it('runs a sweep here: one shared pre-training, every trial (scratch with none), results on the leaderboard; a second run has nothing to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-'));
    const file = join(dir, 'tiny.yaml');
    writeFileSync(file, SWEEP);
    const workDir = join(dir, 'work');
    const run = () => main(['run', file, '--work-dir', workDir, '--backend', 'cpu']);
    expect(await run()).toBe(0);
    const text = out.join('\n');
    expect(text.match(/started pre-training/g)).toHaveLength(1);
    expect(text.match(/started fine-tuning/g)).toHaveLength(3);
    expect(text).toMatch(
      /3 results on the leaderboard: http:\/\/127\.0\.0\.1:\d+\/sweeps\/default\/tiny/,
    );
    // The grid's table: SparK with its mask by augmentation (Table 4's layout), one seed.
    expect(text).toMatch(
      /#### SparK · Mesh 50%\n\n\| Augmentation \| test PRECISION \| test RECALL \| test F1 \| val F1 \| n \|/,
    );
    expect(text).toMatch(/\| \**None\** \| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \| 1 \|/);
    expect(text).toMatch(/\| \**RandomFlip\** \| /);
    expect(text).toMatch(/\| \*Majority class \(\d\)\* \| /);
    expect(text).toMatch(/Test set: \d+ images × 1 seed\./);
    expect(text).toMatch(/### Every config, by mean val F1/);

    const state = JSON.parse(readFileSync(join(workDir, 'state.json'), 'utf8'));
    const trials = Object.values(state.trials) as Array<{ phase: string; objective?: number }>;
    expect(trials.map((t) => t.phase)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(trials.every((t) => typeof t.objective === 'number')).toBe(true);
    // One pre-training run: the scratch trials have no key.
    expect(Object.keys(state.pretrainings)).toHaveLength(1);
    const store = openStore({ path: join(workDir, 'leaderboard.db') });
    const results = store.listResults({ namespace: 'default', sweep: 'tiny' });
    expect(results.totalCount).toBe(3);
    const scratch = results.results.filter((r) => r.config?.method === 'scratch');
    expect(scratch.map((r) => r.config?.pretrainKey)).toEqual(['']);
    expect(store.lastPointId()).toBeGreaterThan(0);
    store.close();

    // Again, with the web view kept open: nothing to run, the results are served.
    out = [];
    const resumed = main(['run', file, '--work-dir', workDir, '--backend', 'cpu', '--keep-open']);
    await expect
      .poll(() => out.join('\n'), { timeout: 30_000 })
      .toMatch(/serving the leaderboard until Ctrl-C/);
    expect(out.join('\n')).not.toMatch(/started/);
    const url = out.join('\n').match(/(http:\/\/127\.0\.0\.1:\d+\/sweeps\/default\/tiny)/)?.[1];
    const page = await fetch(url ?? '');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(Object.keys(state.trials)[0]);
    process.emit('SIGINT');
    expect(await resumed).toBe(0);
  }, 300_000);

  it('stops trials the median rule prunes, from their validations on NATS, as Pruned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-'));
    const file = join(dir, 'prune.yaml');
    writeFileSync(
      file,
      tinySweepYaml('tinyprune', {
        ...tiny,
        augmentations: [...tiny.augmentations, { type: 'mixup' }, { type: 'cutmix' }],
        epochs: { finetune: 4 },
        parallelism: 1,
        spec: { pruner: { type: 'median', startupTrials: 1 } },
      }),
    );
    const workDir = join(dir, 'work');
    expect(await main(['run', file, '--work-dir', workDir, '--backend', 'cpu'])).toBe(0);
    const state = JSON.parse(readFileSync(join(workDir, 'state.json'), 'utf8'));
    const phases = Object.values(state.trials).map((t) => (t as { phase: string }).phase);
    // everything is seeded: the same trials fall below the running median every time
    expect(phases.filter((p) => p === 'Pruned').length).toBeGreaterThan(0);
    expect(phases.every((p) => p === 'Succeeded' || p === 'Pruned')).toBe(true);
    expect(out.join('\n')).toMatch(/pruned tinyprune-[0-9a-f]{10} at fine-tuning step \d+/);
    const store = openStore({ path: join(workDir, 'leaderboard.db') });
    expect(store.listResults({ namespace: 'default', sweep: 'tinyprune' }).totalCount).toBe(
      phases.filter((p) => p === 'Succeeded').length,
    );
    store.close();
  }, 300_000);

  it('runs a search: asks and tells until exactly maxTrials trials, the best chosen on validation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-'));
    const file = join(dir, 'search.yaml');
    writeFileSync(
      file,
      tinySweepYaml('tinysearch', {
        ...tiny,
        methods: ['scratch'],
        spec: {
          maxTrials: 3,
          search: {
            sampler: 'random',
            seed: 7,
            parameters: [{ path: 'finetune.lr', float: { low: 1e-4, high: 1e-2, log: true } }],
          },
        },
      }),
    );
    const workDir = join(dir, 'work');
    expect(await main(['run', file, '--work-dir', workDir, '--backend', 'cpu'])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(
      /sweep tinysearch: a random search \(seed 7\) of 3 trials, 3 suggestions x 1 seeds/,
    );
    expect(text.match(/started fine-tuning/g)).toHaveLength(3);
    const state = JSON.parse(readFileSync(join(workDir, 'state.json'), 'utf8')) as {
      trials: Record<
        string,
        { phase: string; objective?: number; trial: { config: { finetune: { lr: number } } } }
      >;
      suggestions: Array<{ number: number; params: Record<string, number>; trials: string[] }>;
    };
    const trials = Object.values(state.trials);
    expect(trials).toHaveLength(3);
    expect(trials.every((t) => t.phase === 'Succeeded' && typeof t.objective === 'number')).toBe(
      true,
    );
    expect(state.suggestions.map((s) => s.number)).toEqual([0, 1, 2]);
    // Each trial runs the lr its suggestion asked for.
    for (const s of state.suggestions) {
      expect(state.trials[s.trials[0] as string]?.trial.config.finetune.lr).toBe(
        s.params['finetune.lr'],
      );
    }
    // The summary table lists the best validation objective first, with its suggestion.
    const best = Math.max(...trials.map((t) => t.objective as number));
    const header = text.split('\n').findIndex((line) => line.startsWith('TRIAL'));
    expect(text.split('\n')[header]).toMatch(/VAL F1 .*SUGGESTED/);
    expect(text.split('\n')[header + 1]).toContain(
      Object.keys(state.trials).find((name) => state.trials[name]?.objective === best),
    );
    expect(text.split('\n')[header + 1]).toMatch(/#\d finetune\.lr=\d/);
    const store = openStore({ path: join(workDir, 'leaderboard.db') });
    expect(store.listResults({ namespace: 'default', sweep: 'tinysearch' }).totalCount).toBe(3);
    store.close();
  }, 300_000);
});
