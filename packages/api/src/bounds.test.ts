import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  countTrials,
  expandSweep,
  expandSweepCounted,
  findProblems,
  LIMITS,
  loadSweepFile,
  type SweepResource,
  SweepValidationError,
  validateSweep,
} from './index.js';
import { hugeGridSweep, largestSweep, tinySweep } from './sweep.test-support.js';

function problemsOf(raw: unknown) {
  return findProblems(raw).problems.map((p) => `${p.path}: ${p.message}`);
}

/** Heap growth and time of a call: a hostile Sweep must cost what its file costs. */
function measure<T>(run: () => T): { value: T; ms: number; heapMb: number } {
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const value = run();
  return {
    value,
    ms: performance.now() - started,
    heapMb: (process.memoryUsage().heapUsed - heapBefore) / 1e6,
  };
}

describe('the bounds of a Sweep', () => {
  it('refuses imageSize 100000000 with one problem naming the field, fast and small', () => {
    const sweep = tinySweep('huge-image', { masks: [{ type: 'mesh', ratios: [0.6] }] });
    (sweep.spec.datasets as { imageSize: number }).imageSize = 100_000_000;
    const { value, ms, heapMb } = measure(() => problemsOf(sweep));
    expect(value).toEqual([
      `spec.datasets.imageSize: expected integer to be less or equal to ${LIMITS.imageSize}; got 100000000`,
    ]);
    expect(ms).toBeLessThan(1000);
    expect(heapMb).toBeLessThan(50);
  });

  it('accepts every maximum and refuses one past it, naming the field', () => {
    const atMaximum = tinySweep('at-max', {
      seeds: Array.from({ length: LIMITS.seeds }, (_, i) => i),
      epochs: { pretrain: LIMITS.epochs, finetune: LIMITS.epochs },
      parallelism: LIMITS.parallelism,
      masks: [{ type: 'square', sizes: [LIMITS.maskSize - 1] }],
    });
    (atMaximum.spec.datasets as { imageSize: number }).imageSize = LIMITS.imageSize;
    expect(problemsOf(atMaximum)).toEqual([]);
    const past = tinySweep('past-max', {
      seeds: Array.from({ length: LIMITS.seeds + 1 }, (_, i) => i),
      epochs: { finetune: LIMITS.epochs + 1 },
      parallelism: LIMITS.parallelism + 1,
      spec: { maxTrials: LIMITS.trials + 1 },
    });
    expect(problemsOf(past)).toEqual([
      `spec.seeds: expected array length to be less or equal to ${LIMITS.seeds}; got ${JSON.stringify(past.spec.seeds)}`,
      `spec.budgets.finetune.epochs: expected integer to be less or equal to ${LIMITS.epochs}; got ${LIMITS.epochs + 1}`,
      `spec.parallelism: expected integer to be less or equal to ${LIMITS.parallelism}; got ${LIMITS.parallelism + 1}`,
      `spec.maxTrials: expected integer to be less or equal to ${LIMITS.trials}; got ${LIMITS.trials + 1}`,
    ]);
  });

  it('counts a 10^6-trial grid and refuses it on spec.grids without building a trial', () => {
    const sweep = hugeGridSweep('huge-grid');
    const { value, ms, heapMb } = measure(() => findProblems(sweep));
    expect(value.problems).toEqual([
      {
        path: 'spec.grids',
        message: `the grids give 1024000 trials (methods x mask values x augmentations x seeds), over the limit of ${LIMITS.trials} per Sweep; split the study or set spec.maxTrials`,
      },
    ]);
    expect(countTrials(value.sweep.spec)).toBe(32 * 32 * 10 * 100);
    expect(ms).toBeLessThan(1000);
    expect(heapMb).toBeLessThan(50);
    // A caller that skipped validation gets the same refusal from the expansion.
    expect(() => expandSweep(value.sweep)).toThrow(SweepValidationError);
  });

  it('builds a 10^6-trial grid only up to maxTrials, fast', () => {
    const sweep = validateSweep(hugeGridSweep('capped', { maxTrials: 5 }));
    const { value, ms } = measure(() => expandSweepCounted(sweep));
    expect(value.trials).toHaveLength(5);
    expect(value).toMatchObject({ counted: 1_024_000, truncated: true });
    expect(value.trials.map((t) => t.seed)).toEqual([0, 1, 2, 3, 4]);
    expect(ms).toBeLessThan(1000);
  });

  it('gives under maxTrials the first trials of the whole expansion, grids included', () => {
    // The trial of ratio 0.6 is in both grids; the cap stops before the second grid is read.
    const whole = (maxTrials?: number) =>
      validateSweep({
        ...tinySweep('overlap'),
        spec: {
          ...tinySweep('overlap').spec,
          grids: [
            { name: 'low', methods: ['spark'], masks: [{ type: 'random', ratios: [0.5, 0.6] }] },
            { name: 'high', methods: ['spark'], masks: [{ type: 'random', ratios: [0.6, 0.7] }] },
          ],
          ...(maxTrials !== undefined && { maxTrials }),
        },
      }) as SweepResource;
    const full = expandSweep(whole());
    expect(full.map((t) => t.grids)).toEqual([['low'], ['low', 'high'], ['high']]);
    const capped = expandSweepCounted(whole(2));
    expect(capped.truncated).toBe(true);
    expect(capped.trials).toEqual(full.slice(0, 2));
    expect(expandSweepCounted(whole(3))).toMatchObject({ truncated: false, trials: full });
  });

  it('validates and expands the largest Sweep the limits allow in about a second', () => {
    // The controller does this on its event loop, once per generation of a Sweep.
    const sweep = largestSweep('largest');
    const { value, ms } = measure(() => expandSweep(validateSweep(sweep)));
    expect(value).toHaveLength(LIMITS.trials);
    // ~0.6 s on 2 busy cores; what stays is hashing 10,000 configs.
    expect(ms).toBeLessThan(3000);
  });

  it('refuses a free string longer than its limit, naming the field', () => {
    // Each Trial copies the data paths and each Job the grid names: a long one, 10,000 times.
    const sweep = tinySweep('long-strings', {
      pretrainPath: 'd'.repeat(LIMITS.pathLength + 1),
      spec: { kubernetes: { nodeSelector: { pool: 'v'.repeat(LIMITS.labelValue + 1) } } },
    });
    (sweep.spec.grids as Array<{ name?: string }>)[0] = {
      ...(sweep.spec.grids as object[])[0],
      name: 'g'.repeat(LIMITS.gridName + 1),
    };
    expect(problemsOf(sweep).map((p) => p.split(';')[0])).toEqual([
      `spec.datasets.pretrain.path: expected string length less or equal to ${LIMITS.pathLength}`,
      `spec.grids[0].name: expected string length less or equal to ${LIMITS.gridName}`,
      `spec.kubernetes.nodeSelector.pool: expected string length less or equal to ${LIMITS.labelValue}`,
    ]);
  });

  it('refuses more mask values than a Sweep may have before resolving any', () => {
    const sweep = largestSweep('too-many-masks');
    const grids = sweep.spec.grids as Array<{ masks: Array<{ type: string; ratios: number[] }> }>;
    grids[0]?.masks.push({ type: 'random', ratios: [0.95] });
    const { value, ms } = measure(() => problemsOf(sweep));
    expect(value).toEqual([
      `spec.grids: the grids list ${LIMITS.sweepMaskValues + 1} mask ratios and sizes, over the limit of ${LIMITS.sweepMaskValues} per Sweep`,
    ]);
    expect(ms).toBeLessThan(1000);
  });

  it('lists the first 50 of 100,000 bad values and says there are more, fast', () => {
    const sweep = tinySweep('many-bad', { seeds: Array.from({ length: 100_000 }, () => -1) });
    const { value, ms } = measure(() => problemsOf(sweep));
    expect(value).toHaveLength(50);
    expect(value.at(-2)).toBe(
      'spec.seeds[48]: expected integer to be greater or equal to 0; got -1',
    );
    expect(value.at(-1)).toBe(': and more problems, not listed');
    expect(ms).toBeLessThan(2000);
  });

  it('refuses a Sweep file over the size limit before parsing it, naming the file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bounds-')), 'big.yaml');
    writeFileSync(file, `# ${'x'.repeat(LIMITS.sweepFileBytes)}\n`);
    expect(() => loadSweepFile(file)).toThrow(
      `${file}: ${LIMITS.sweepFileBytes + 3} bytes is over the limit of ${LIMITS.sweepFileBytes} bytes for a Sweep file`,
    );
  });
});
