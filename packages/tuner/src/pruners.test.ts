import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Random } from '@masksweep/random';
import { DEBIAN_PYTHON, pythonCanImport } from '@masksweep/testing';
import { describe, expect, it } from 'vitest';
import { AshaPruner, type AshaPrunerOptions } from './asha-pruner.js';
import { MedianPruner, nanPercentile, type PercentilePrunerOptions } from './percentile-pruner.js';
import { type Direction, type Pruner, Study } from './study.js';

type StreamEvent =
  | { trial: string; step: number; value: number }
  | { trial: string; complete: true };

/** Runs a metric stream through a pruner; reports of a pruned trial are skipped. */
function prunedBy(pruner: Pruner, direction: Direction, events: StreamEvent[]) {
  const study = new Study(direction);
  const pruned: Record<string, number> = {};
  for (const event of events) {
    if (event.trial in pruned) continue;
    if ('complete' in event) {
      const trial = study.trial(event.trial);
      const last = trial.intermediate.get(Math.max(...trial.intermediate.keys())) as number;
      study.finish(event.trial, Number.isNaN(last) ? 'failed' : 'complete');
      continue;
    }
    const trial = study.report(event.trial, event.step, event.value);
    if (pruner.shouldPrune(study, trial)) {
      pruned[event.trial] = event.step;
      study.finish(event.trial, 'pruned');
    }
  }
  return pruned;
}

/**
 * Trials of different quality run `parallel` at a time, interleaved step by step, with noisy
 * learning curves; some repeat a step report, one diverges to NaN.
 */
function syntheticStream(seed: number, trials: number, steps: number, parallel: number) {
  const rng = new Random(seed);
  const events: StreamEvent[] = [];
  for (let wave = 0; wave < trials; wave += parallel) {
    const ids = Array.from({ length: Math.min(parallel, trials - wave) }, (_, i) => `t${wave + i}`);
    const quality = ids.map(() => rng.float());
    for (let step = 0; step < steps; step++) {
      for (const [k, trial] of ids.entries()) {
        const diverged = trial === 't7' && step >= steps / 2;
        const q = quality[k] as number;
        const value = diverged
          ? Number.NaN
          : q * (1 - Math.exp(-(step + 1) / 5)) + 0.05 * rng.normal();
        events.push({ trial, step, value });
        if (rng.float() < 0.05) events.push({ trial, step, value: value + 1 });
      }
    }
    for (const trial of ids) events.push({ trial, complete: true });
  }
  return events;
}

const optunaScript = fileURLToPath(new URL('../scripts/optuna_pruning.py', import.meta.url));
const python = DEBIAN_PYTHON;
const hasOptuna = pythonCanImport('optuna');

function optunaPruned(
  direction: Direction,
  pruner: ({ type: 'median' } & PercentilePrunerOptions) | ({ type: 'asha' } & AshaPrunerOptions),
  events: StreamEvent[],
): Record<string, number> {
  const input = JSON.stringify({ direction, pruner, events }, (_k, v) =>
    typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v,
  ).replaceAll('"NaN"', 'NaN');
  return JSON.parse(execFileSync(python, [optunaScript], { input, encoding: 'utf8' })).pruned;
}

describe('nanPercentile', () => {
  it('interpolates linearly like numpy and ignores NaN', () => {
    expect(nanPercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(nanPercentile([1, Number.NaN, 3], 50)).toBe(2);
    expect(nanPercentile([10, 0, 5], 25)).toBe(2.5);
    expect(nanPercentile([Number.NaN], 50)).toBeNaN();
  });
});

describe('MedianPruner', () => {
  it('prunes a trial below the median of completed trials at its step, not before 5 completed', () => {
    const study = new Study('maximize');
    const pruner = new MedianPruner();
    for (let t = 0; t < 4; t++) {
      study.report(`c${t}`, 0, t / 10);
      study.finish(`c${t}`, 'complete');
    }
    expect(pruner.shouldPrune(study, study.report('low', 0, 0))).toBe(false);
    study.report('c4', 0, 0.4);
    study.finish('c4', 'complete');
    // completed at step 0: 0, 0.1, 0.2, 0.3, 0.4 -> median 0.2
    expect(pruner.shouldPrune(study, study.trial('low'))).toBe(true);
    expect(pruner.shouldPrune(study, study.report('mid', 0, 0.2))).toBe(false);
  });

  it('refuses bad options, naming them', () => {
    expect(() => new MedianPruner({ intervalSteps: 0 })).toThrow(/intervalSteps/);
    expect(() => new AshaPruner({ reductionFactor: 1 })).toThrow(/reductionFactor/);
    expect(() => new AshaPruner({ bootstrapCount: 1 })).toThrow(/bootstrapCount/);
  });
});

describe('AshaPruner', () => {
  it('lets only the best of the first trials at a rung go on, then the top quarter', () => {
    const study = new Study('minimize');
    const pruner = new AshaPruner({ minResource: 1, reductionFactor: 2 });
    // rung 0 ends at step 1
    expect(pruner.shouldPrune(study, study.report('a', 1, 0.5))).toBe(false);
    expect(pruner.shouldPrune(study, study.report('b', 1, 0.7))).toBe(true);
    // competing at rung 0: 0.5, 0.7, 0.4 -> index 0 -> 0.4 is the best
    expect(pruner.shouldPrune(study, study.report('c', 1, 0.4))).toBe(false);
    expect(study.trial('c').completedRungs).toEqual([0.4]);
  });
});

describe.skipIf(!hasOptuna)('against Optuna (Debian python3-optuna) on synthetic streams', () => {
  const cases: Array<[Direction, number]> = [
    ['maximize', 1],
    ['minimize', 2],
    ['maximize', 3],
  ];
  it.each(cases)(
    'the median rule stops the same trials at the same steps (%s, seed %i)',
    (direction, seed) => {
      const events = syntheticStream(seed, 24, 12, 3);
      const options = { startupTrials: 5, warmupSteps: 0 };
      const expected = optunaPruned(direction, { type: 'median', ...options }, events);
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      expect(prunedBy(new MedianPruner(options), direction, events)).toEqual(expected);
    },
  );

  it.each(cases)(
    'ASHA stops the same trials at the same steps (%s, seed %i)',
    (direction, seed) => {
      const events = syntheticStream(seed, 24, 40, 4);
      for (const options of [
        { minResource: 2 },
        { minResource: 'auto' as const },
        { minResource: 1, reductionFactor: 3 },
      ]) {
        const expected = optunaPruned(direction, { type: 'asha', ...options }, events);
        expect(Object.keys(expected).length).toBeGreaterThan(0);
        expect(prunedBy(new AshaPruner(options), direction, events)).toEqual(expected);
      }
    },
  );
});

if (!hasOptuna) {
  describe('against Optuna', () => {
    it.skip('needs Debian python3-optuna at /usr/bin/python3 (apt-get install python3-optuna)', () => {});
  });
}
