import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS } from '@masksweep/api';
import { hugeGridSweep, tinySweep } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { table } from './table.js';

const bin = fileURLToPath(new URL('../bin/masksweep.js', import.meta.url));

/**
 * `masksweep validate` as a user runs it, with a heap of 150 MB: a Sweep whose numbers
 * make validation allocate by them (not by the file's size) crashes it instead of passing.
 */
function validate(manifest: unknown) {
  const file = join(mkdtempSync(join(tmpdir(), 'hostile-')), 'sweep.yaml');
  writeFileSync(file, typeof manifest === 'string' ? manifest : stringify(manifest));
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    ['--max-old-space-size=150', bin, 'validate', file, '--no-check-data'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { ...result, file, ms: performance.now() - started };
}

describe('masksweep validate on a hostile Sweep', () => {
  it('refuses imageSize 100000000 in one line naming the field, no stack', () => {
    const sweep = tinySweep('huge-image', { masks: [{ type: 'mesh', ratios: [0.6] }] });
    (sweep.spec.datasets as { imageSize: number }).imageSize = 100_000_000;
    const { status, stdout, stderr, file, ms } = validate(sweep);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^masksweep: ${file}:\\d+:\\d+: spec\\.datasets\\.imageSize: expected integer to be less or equal to ${LIMITS.imageSize}; got 100000000$`,
        ),
      ),
    ]);
    expect(status).toBe(1);
    // Start-up included, on a shared machine; the regression took minutes and crashed.
    expect(ms).toBeLessThan(10_000);
  });

  it('refuses a 10^6-trial grid in one line naming spec.grids, no stack', () => {
    const { status, stdout, stderr, file, ms } = validate(hugeGridSweep('huge-grid'));
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^masksweep: ${file}:\\d+:\\d+: spec\\.grids: the grids give 1024000 trials .* over the limit of ${LIMITS.trials} per Sweep; split the study or set spec\\.maxTrials$`,
        ),
      ),
    ]);
    expect(status).toBe(1);
    expect(ms).toBeLessThan(10_000);
  });

  it('refuses a YAML alias bomb in one line, no stack', () => {
    // Each level doubles the last: 2^20 expansions of one small list.
    const levels = Array.from(
      { length: 20 },
      (_, i) => `  l${i + 1}: &l${i + 1} [*l${i}, *l${i}]`,
    ).join('\n');
    const bomb = `apiVersion: masksweep.io/v1alpha1\nkind: Sweep\nmetadata:\n  name: bomb\nspec:\n  l0: &l0 [a, b]\n${levels}\n`;
    const { status, stdout, stderr, file } = validate(bomb);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toEqual([
      `masksweep: ${file}: YAML aliases expand more than 100 times; write the values out instead`,
    ]);
    expect(status).toBe(1);
  });

  it('lists only the first maxTrials trials of a 10^6-trial grid, and says so', () => {
    const { status, stdout, stderr } = validate(hugeGridSweep('capped', { maxTrials: 3 }));
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(
      /the grids give 1024000 trials before duplicates are removed; maxTrials is 3: the first 3 run, with 3 pretraining keys/,
    );
    expect(stdout.split('\n').filter((l) => l.startsWith('capped-'))).toHaveLength(3);
  });
});

describe('the table printer', () => {
  it('prints 200,000 rows (spreading them into Math.max overflowed the stack)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [`trial-${i}`, String(i % 7)]);
    const lines = table(['TRIAL', 'SEED'], rows).split('\n');
    expect(lines).toHaveLength(200_001);
    // Padded to the widest cell, trial-199999 (12 characters), then two spaces.
    expect(lines[0]).toBe('TRIAL         SEED');
    expect(lines[200_000]).toBe(`trial-199999  ${199_999 % 7}`);
  });
});
