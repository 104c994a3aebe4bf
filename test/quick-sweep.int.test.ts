/**
 * The README's main job, `masksweep run examples/quick.yaml`, as a user runs it: the built
 * CLI on the embedded phantoms. It must measure something: a 4x4 or finer mask grid (so mesh
 * is not random), SparK with both masks beside scratch, more unlabelled than labelled
 * images, and every trial clearly above the always-positive classifier on its test set.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandSweep, loadSweepFile } from '@masksweep/api';
import { gridSizeFor } from '@masksweep/masks';
import { classificationMetrics, confusionMatrix } from '@masksweep/stats';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../services/cli/bin/masksweep.js', import.meta.url));
const QUICK = fileURLToPath(new URL('../examples/quick.yaml', import.meta.url));

/** How far above always-positive's test F1 every trial must be, in F1 (docs/quick.md). */
const MARGIN = 0.15;

interface TrialResultFile {
  trial: string;
  config: { method: string; mask?: { type: string } };
  test: {
    metrics: { f1: number };
    intervals: { f1: { low: number; high: number } };
    predictions: { label: number; prediction: number }[];
  };
}

describe('examples/quick.yaml', () => {
  it('is a small experiment with a 4x4 mask grid, both masks, scratch and seeds', () => {
    const { sweep } = loadSweepFile(QUICK, { checkData: true });
    const trials = expandSweep(sweep);
    expect(gridSizeFor(sweep.spec.datasets.imageSize)).toBeGreaterThanOrEqual(4);
    const kinds = new Set(trials.map((t) => `${t.config.method}:${t.config.mask?.type ?? ''}`));
    expect([...kinds].sort()).toEqual(['scratch:', 'spark:mesh', 'spark:random']);
    expect(sweep.spec.seeds.length).toBeGreaterThanOrEqual(2);
    const { pretrain, downstream, splits } = sweep.spec.datasets;
    const labelledForTraining = (downstream.phantom?.count ?? 0) * splits.train;
    expect(pretrain?.phantom?.count ?? 0).toBeGreaterThan(labelledForTraining);
  });

  it('runs end to end with every trial clearly above always-positive', async () => {
    const work = mkdtempSync(join(tmpdir(), 'quick-sweep-'));
    try {
      const cli = spawn(process.execPath, [CLI, 'run', QUICK, '--work-dir', work], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      cli.stdout.on('data', (chunk) => {
        output += chunk;
      });
      cli.stderr.on('data', (chunk) => {
        output += chunk;
      });
      const code = await new Promise((resolve) => cli.once('exit', resolve));
      expect(code, output).toBe(0);

      const results = readdirSync(join(work, 'trials')).map(
        (name) =>
          JSON.parse(
            readFileSync(join(work, 'trials', name, 'result.json'), 'utf8'),
          ) as TrialResultFile,
      );
      const { sweep } = loadSweepFile(QUICK);
      expect(results).toHaveLength(expandSweep(sweep).length);
      for (const result of results) {
        const labels = result.test.predictions.map((p) => p.label);
        const alwaysPositive = classificationMetrics(
          confusionMatrix(
            labels,
            labels.map(() => 1),
            2,
          ),
        ).f1;
        const { f1 } = result.test.metrics;
        const what = `${result.trial} (${result.config.method} ${result.config.mask?.type ?? ''}): test F1 ${f1}, always-positive ${alwaysPositive}`;
        expect(f1 - alwaysPositive, what).toBeGreaterThanOrEqual(MARGIN);
        // Its own bootstrap interval over the test images clears the trivial row too.
        expect(result.test.intervals.f1.low, what).toBeGreaterThan(alwaysPositive);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 1_800_000);
});
