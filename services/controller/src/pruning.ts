/**
 * Pruning from the metric stream: each trial's validation objective (`val_<metric>` at the
 * fine-tuning step of each epoch) goes into a Study; the Sweep's pruner (Optuna's rules, in
 * @masksweep/tuner) says which running trials to stop. They end as Pruned, not Failed.
 */
import type { SweepSpecType } from '@masksweep/api';
import { AshaPruner, MedianPruner, type Pruner, Study } from '@masksweep/tuner';
import type { SweepState } from './state.js';

export function createPruner(spec: NonNullable<SweepSpecType['pruner']>): Pruner {
  return spec.type === 'median'
    ? new MedianPruner({ startupTrials: spec.startupTrials, warmupSteps: spec.warmupSteps })
    : new AshaPruner({ minResource: spec.minResource, reductionFactor: spec.reductionFactor });
}

export class PruningMonitor {
  readonly #study: Study;
  readonly #metric: string;

  constructor(
    private readonly pruner: Pruner,
    objective: SweepSpecType['objective'],
  ) {
    this.#study = new Study(objective.direction);
    this.#metric = `val_${objective.metric === 'macroF1' ? 'macro_f1' : objective.metric}`;
  }

  /** Marks the trials that ended, so the rules compare against completed ones. */
  sync(state: SweepState): void {
    for (const t of Object.values(state.trials)) {
      const study = this.#study.trial(t.trial.name);
      if (study.state !== 'running') continue;
      if (t.phase === 'Succeeded') this.#study.finish(t.trial.name, 'complete');
      else if (t.phase === 'Pruned') this.#study.finish(t.trial.name, 'pruned');
      else if (t.phase === 'Failed' || t.phase === 'Diverged')
        this.#study.finish(t.trial.name, 'failed');
    }
  }

  /**
   * One validation report of a trial; true when the trial should stop now. Reports of a
   * trial that is not fine-tuning (replayed, or late) only feed the study.
   */
  report(state: SweepState, trial: string, step: number, values: Record<string, number>): boolean {
    const value = values[this.#metric];
    if (value === undefined) return false;
    this.sync(state);
    const reported = this.#study.report(trial, step, value);
    if (state.trials[trial]?.phase !== 'Finetuning' || reported.state !== 'running') return false;
    return this.pruner.shouldPrune(this.#study, reported);
  }
}
