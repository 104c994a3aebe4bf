/**
 * The state a pruner decides on: each trial's intermediate values by step, whether it is
 * still running, and the rung values ASHA has recorded for it. The controller rebuilds it
 * from the metric stream; replaying the same reports in the same order rebuilds the same
 * decisions.
 */
export type Direction = 'maximize' | 'minimize';
export type TrialState = 'running' | 'complete' | 'pruned' | 'failed';

export interface StudyTrial {
  readonly id: string;
  state: TrialState;
  /** Step -> reported value; the first report of a step is kept, as in Optuna. */
  readonly intermediate: Map<number, number>;
  /** ASHA: the value with which the trial completed rung i (Optuna's `completed_rung_i`). */
  readonly completedRungs: number[];
}

export class Study {
  readonly #trials = new Map<string, StudyTrial>();

  constructor(readonly direction: Direction) {}

  /** The trial, created as running on first mention. */
  trial(id: string): StudyTrial {
    let trial = this.#trials.get(id);
    if (!trial) {
      trial = { id, state: 'running', intermediate: new Map(), completedRungs: [] };
      this.#trials.set(id, trial);
    }
    return trial;
  }

  /** Records an intermediate value; a second value for a step already reported is ignored. */
  report(id: string, step: number, value: number): StudyTrial {
    if (!Number.isInteger(step) || step < 0) {
      throw new RangeError(`step: must be an integer >= 0, got ${step}`);
    }
    const trial = this.trial(id);
    if (!trial.intermediate.has(step)) trial.intermediate.set(step, value);
    return trial;
  }

  finish(id: string, state: Exclude<TrialState, 'running'>): void {
    this.trial(id).state = state;
  }

  trials(): IterableIterator<StudyTrial> {
    return this.#trials.values();
  }

  completed(): StudyTrial[] {
    return [...this.#trials.values()].filter((t) => t.state === 'complete');
  }
}

/** The largest step the trial has reported, or undefined before its first report. */
export function lastStep(trial: StudyTrial): number | undefined {
  let last: number | undefined;
  for (const step of trial.intermediate.keys()) if (last === undefined || step > last) last = step;
  return last;
}

/** A rule that stops trials that cannot win. */
export interface Pruner {
  /** Whether the trial should stop now, after its latest report. May record state (ASHA). */
  shouldPrune(study: Study, trial: StudyTrial): boolean;
}
