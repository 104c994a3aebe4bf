/**
 * The state of record of one sweep in local mode (in a cluster the Sweep and Trial objects
 * hold the same): per trial and per pre-training key, the phase, the attempts used and why
 * the last one ended. Counters and the best trial are computed from it, never stored apart.
 */
import {
  hasPretraining,
  type PRETRAIN_PHASES,
  type SWEEP_PHASES,
  type SweepResource,
  type TRIAL_PHASES,
  type Trial,
} from '@masksweep/api';
import type { Params } from '@masksweep/tuner';

/** The phases the Trial, pre-training and Sweep statuses show (the CRDs list the same). */
export type TrialPhase = (typeof TRIAL_PHASES)[number];
export type PretrainPhase = (typeof PRETRAIN_PHASES)[number];
/** Invalid is a Sweep that cannot run: it has no state, only a status. */
export type SweepPhase = Exclude<(typeof SWEEP_PHASES)[number], 'Invalid'>;

/** Why a workload ended; each is handled differently (retry, no retry, fail the sweep). */
export type EndReason =
  | 'Completed'
  /** The trainer failed (exit 1): retried up to `retries`. */
  | 'TrainerError'
  /** A NaN or infinite loss (exit 3): not retried, the same run would diverge again. */
  | 'Diverged'
  /** The trial cannot run as given (exit 2): not retried. */
  | 'InvalidTrial'
  /** Killed from outside (signal, OOM, eviction, lost node): retried. */
  | 'Interrupted'
  /** Stopped by the pruner: it cannot win. */
  | 'Pruned';

export interface Attempts {
  /** Attempts started so far. */
  started: number;
  /** No new attempt before this time (ms since the epoch): the retry back-off. */
  notBefore?: number;
}

/** Where the pruner stopped a trial: the fine-tuning step and the objective it reported there. */
export interface PrunedAt {
  step: number;
  value: number;
}

export interface TrialState {
  trial: Trial;
  phase: TrialPhase;
  finetune: Attempts;
  reason?: string;
  message?: string;
  /** The sweep's objective metric on the validation split at the end of fine-tuning. */
  objective?: number;
  /** A pruned trial's last report, which a search's sampler ranks it by. */
  prunedAt?: PrunedAt;
}

export interface PretrainState {
  key: string;
  /** The trial whose config the workload runs (any trial of the key gives the same run). */
  trial: string;
  phase: PretrainPhase;
  attempts: Attempts;
  reason?: string;
  message?: string;
}

/** A suggestion of a search's sampler (search.ts): what it asked for and its Trials. */
export interface SuggestionState {
  /** Its place in the sampler's history, and the trial number it was drawn with. */
  number: number;
  params: Params;
  /** Its Trials, one per seed: created by it, or the existing ones of its config and seeds. */
  trials: string[];
  /** Whether it added Trials; false for a duplicate of earlier suggestions' Trials. */
  created: boolean;
}

export interface SweepState {
  sweep: SweepResource;
  /** Where relative dataset paths start. */
  baseDir: string;
  phase: SweepPhase;
  trials: Record<string, TrialState>;
  pretrainings: Record<string, PretrainState>;
  /** A search's suggestions, in number order (absent without spec.search). */
  suggestions?: SuggestionState[];
  reason?: string;
  startedAt: number;
  finishedAt?: number;
}

export const TERMINAL_TRIAL_PHASES: ReadonlySet<TrialPhase> = new Set([
  'Succeeded',
  'Failed',
  'Diverged',
  'Pruned',
]);

export interface SweepCounts {
  total: number;
  /** The Trials the sweep will have: total for grids, maxTrials for a search. */
  planned: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  diverged: number;
  pruned: number;
  pretrainings: { total: number; succeeded: number; running: number };
  /** The succeeded trial with the best objective: chosen on validation, never on test. */
  best?: { trial: string; objective: number };
  /** A search's suggestions: asked, and told a final outcome (not running). */
  suggestions?: { asked: number; told: number };
}

export function countSweep(state: SweepState): SweepCounts {
  const trials = Object.values(state.trials);
  const count = (...phases: TrialPhase[]) => trials.filter((t) => phases.includes(t.phase)).length;
  const pretrainings = Object.values(state.pretrainings);
  const maximize = state.sweep.spec.objective.direction === 'maximize';
  let best: SweepCounts['best'];
  for (const t of trials) {
    if (t.phase !== 'Succeeded' || t.objective === undefined) continue;
    if (!best || (maximize ? t.objective > best.objective : t.objective < best.objective))
      best = { trial: t.trial.name, objective: t.objective };
  }
  const { spec } = state.sweep;
  return {
    total: trials.length,
    planned: spec.search ? (spec.maxTrials ?? trials.length) : trials.length,
    pending: count('Pending'),
    running: count('Pretraining', 'Finetuning'),
    succeeded: count('Succeeded'),
    failed: count('Failed'),
    diverged: count('Diverged'),
    pruned: count('Pruned'),
    pretrainings: {
      total: pretrainings.length,
      succeeded: pretrainings.filter((p) => p.phase === 'Succeeded').length,
      running: pretrainings.filter((p) => p.phase === 'Running').length,
    },
    best,
    ...(state.suggestions && {
      suggestions: {
        asked: state.suggestions.length,
        told: state.suggestions.filter((s) =>
          s.trials.every((name) => {
            const phase = state.trials[name]?.phase;
            return phase === undefined || TERMINAL_TRIAL_PHASES.has(phase);
          }),
        ).length,
      },
    }),
  };
}

/**
 * A new Trial in the state, with a pre-training entry for a key not seen yet (a key that
 * exists is shared). A key whose pre-training already failed fails the Trial at once, as it
 * failed the key's other Trials: it would wait for that run forever.
 */
export function addTrial(state: SweepState, trial: Trial): TrialState {
  const t: TrialState = { trial, phase: 'Pending', finetune: { started: 0 } };
  state.trials[trial.name] = t;
  if (!hasPretraining(trial)) return t;
  const p = state.pretrainings[trial.pretrainKey];
  if (!p) {
    state.pretrainings[trial.pretrainKey] = {
      key: trial.pretrainKey,
      trial: trial.name,
      phase: 'Pending',
      attempts: { started: 0 },
    };
  } else if (p.phase === 'Failed' || p.phase === 'Diverged') {
    Object.assign(t, {
      phase: p.phase,
      reason: p.reason,
      message: `pre-training ${p.key}: ${p.message}`,
    });
  }
  return t;
}
