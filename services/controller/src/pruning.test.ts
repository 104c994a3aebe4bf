import { validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';
import { createPruner, PruningMonitor } from './pruning.js';
import { initialState, reconcile, workload } from './reconcile.js';

const sweep = validateSweep(
  tinySweep('prune', {
    masks: [{ type: 'random', ratios: [0.5] }],
    seeds: [0, 1, 2],
    parallelism: 1,
    spec: { pruner: { type: 'median', startupTrials: 2 } },
  }),
);

describe('pruning from validation reports', () => {
  it('stops a fine-tuning trial below the median of completed ones, and reconcile marks it Pruned', () => {
    const state = initialState(sweep, '.');
    const [a, b, c] = Object.keys(state.trials);
    const monitor = new PruningMonitor(
      createPruner(sweep.spec.pruner ?? { type: 'median' }),
      sweep.spec.objective,
    );
    for (const [name, f1] of [
      [a, 0.8],
      [b, 0.6],
    ] as const) {
      expect(monitor.report(state, name ?? '', 10, { val_f1: f1 })).toBe(false);
      const trial = state.trials[name ?? ''];
      if (trial) Object.assign(trial, { phase: 'Succeeded' });
    }
    const running = state.trials[c ?? ''];
    if (!running) throw new Error('no third trial');
    Object.assign(running, { phase: 'Finetuning', finetune: { started: 1 } });
    // a value without the objective is ignored; the median of 0.8 and 0.6 is 0.7
    expect(monitor.report(state, c ?? '', 10, { train_loss: 0.1 })).toBe(false);
    expect(monitor.report(state, c ?? '', 10, { val_f1: 0.65 })).toBe(true);

    reconcile(state, {
      running: new Set(),
      ended: [
        {
          workload: workload('finetune', running.trial, 1),
          reason: 'Pruned',
          message: 'stopped by the pruner',
        },
      ],
      pretrained: () => true,
      validationMetricsOf: () => undefined,
      now: 0,
    });
    expect(running.phase).toBe('Pruned');
    expect(state.phase).toBe('Succeeded');
  });

  it('makes the ASHA pruner with the Sweep settings', () => {
    expect(() => createPruner({ type: 'asha', reductionFactor: 1 })).toThrow(/reductionFactor/);
  });
});
