/**
 * One level-triggered pass over a sweep: fold in the workloads that ended, then start what
 * the state calls for within `parallelism`: a pre-training workload per distinct key (one
 * run for every trial that shares it, and none when the store already holds it, even from
 * another sweep), then the fine-tuning workloads of trials whose key is ready. Retries are
 * counted per stage with an exponential back-off; a divergence or an invalid trial is not
 * retried; a trial the pruner stopped ends as Pruned and its workload is stopped. Pure: the
 * caller observes the world and carries the actions out.
 */
import {
  expandSweep,
  hasPretraining,
  metricName,
  type PretrainedTrial,
  SweepValidationError,
  type Trial,
} from '@masksweep/api';
import { askSuggestions, searchFinished } from './search.js';
import {
  type Attempts,
  addTrial,
  countSweep,
  type EndReason,
  type PretrainState,
  type PrunedAt,
  type SweepState,
  TERMINAL_TRIAL_PHASES,
  type TrialState,
} from './state.js';

/**
 * A stage attempt of a trial, before it is named: pre-training runs for the trial's key (a
 * trial with a pre-training stage), fine-tuning for the trial itself (any trial).
 */
export type StageAttempt =
  | { stage: 'pretrain'; trial: PretrainedTrial; attempt: number }
  | { stage: 'finetune'; trial: Trial; attempt: number };

/** A stage attempt with its name, unique per attempt: see workloadName. */
export type Workload = StageAttempt & { name: string };

/**
 * The name of a stage attempt, unique per attempt: `pretrain-<key>-<attempt>` (one run for
 * every trial of the key) or `finetune-<trial>-<attempt>`.
 */
export function workloadName(attempt: StageAttempt): string {
  const subject = attempt.stage === 'pretrain' ? attempt.trial.pretrainKey : attempt.trial.name;
  return `${attempt.stage}-${subject}-${attempt.attempt}`;
}

/** A stage attempt of a trial (pre-training: of the trial's key), named. */
export function workload(stage: 'pretrain', trial: PretrainedTrial, attempt: number): Workload;
export function workload(stage: 'finetune', trial: Trial, attempt: number): Workload;
export function workload(stage: Workload['stage'], trial: Trial, attempt: number): Workload {
  const unnamed = { stage, trial, attempt } as StageAttempt;
  return { ...unnamed, name: workloadName(unnamed) };
}

export interface WorkloadEnd {
  workload: Workload;
  reason: EndReason;
  message: string;
}

export interface Observation {
  /** Names of the workloads running now. */
  running: ReadonlySet<string>;
  /** Workloads that ended since the last pass. */
  ended: readonly WorkloadEnd[];
  /** Whether the artifact store holds the finished pre-training run of a key. */
  pretrained(key: string): boolean;
  /**
   * The validation metrics of a finished trial at the end of fine-tuning, by their wire
   * names (`f1`, `macro_f1`): its objective is the sweep's metric among them. Test metrics
   * have no way in: no choice (objective, best trial) may read them.
   */
  validationMetricsOf(trial: Trial): Readonly<Record<string, number>> | undefined;
  /** Trials the pruner stopped, with the fine-tuning step and value it stopped each at. */
  pruned?: ReadonlyMap<string, PrunedAt>;
  now: number;
}

export interface Actions {
  start: Workload[];
  /** Workloads to stop: the sweep failed, or the pruner stopped their trial. */
  stop: string[];
  /** The fine-tunings this pass ended as Pruned (their workloads are in `stop`). */
  pruned: WorkloadEnd[];
}

export interface ReconcileOptions {
  /** First retry delay; doubling per retry, at most 5 minutes. @default 10000 */
  retryBackoffMs?: number;
}

/**
 * The sweep's trials: the expansion, built only up to maxTrials. A search has none until
 * the reconcile asks its sampler (search.ts).
 */
export function sweepTrials(sweep: SweepState['sweep']): Trial[] {
  return expandSweep(sweep);
}

/**
 * A new sweep's state: its trials and one pre-training entry per key (a trial without
 * pre-training, method scratch, has none: it waits for nothing). A search starts with no
 * trials and no suggestions.
 */
export function initialState(
  sweep: SweepState['sweep'],
  baseDir: string,
  now = Date.now(),
  trials = sweep.spec.search ? [] : sweepTrials(sweep),
): SweepState {
  const state: SweepState = {
    sweep,
    baseDir,
    phase: 'Created',
    trials: {},
    pretrainings: {},
    startedAt: now,
    ...(sweep.spec.search && { suggestions: [] }),
  };
  for (const trial of trials) addTrial(state, trial);
  return state;
}

/**
 * A state loaded after a restart: workloads it shows as running died with the previous
 * process, so they start again as the same attempt (an interruption is not the trial's fault).
 */
export function resumedState(state: SweepState): SweepState {
  for (const p of Object.values(state.pretrainings)) {
    if (p.phase !== 'Running') continue;
    p.phase = 'Pending';
    p.attempts.started -= 1;
  }
  for (const t of Object.values(state.trials)) {
    if (t.phase === 'Finetuning') t.finetune.started -= 1;
    if (t.phase === 'Finetuning' || t.phase === 'Pretraining') t.phase = 'Pending';
  }
  return state;
}

export function reconcile(
  state: SweepState,
  observation: Observation,
  options: ReconcileOptions = {},
): Actions {
  const { spec } = state.sweep;
  const { now } = observation;
  const objectiveName = metricName(spec.objective.metric);
  const backoff = (attempts: Attempts) =>
    Math.min((options.retryBackoffMs ?? 10_000) * 2 ** (attempts.started - 1), 300_000);
  // Each key's trials, in trial order: built once per pass (a scan per key is quadratic).
  let byKey = trialsByKey(state);
  const trialsOfKey = (key: string): readonly TrialState[] => byKey.get(key) ?? [];
  const open = (t: TrialState) => !TERMINAL_TRIAL_PHASES.has(t.phase);
  const running = new Set(observation.running);
  const pruned = prunedWorkloads(state, observation, running);

  for (const { workload, reason, message } of [...observation.ended, ...pruned]) {
    if (workload.stage === 'pretrain') {
      const p = state.pretrainings[workload.trial.pretrainKey];
      if (!p || p.phase !== 'Running') continue;
      if (reason === 'Completed') {
        p.phase = 'Succeeded';
        // Waiting for a fine-tuning slot now, no longer for the pre-training.
        for (const t of trialsOfKey(p.key)) if (t.phase === 'Pretraining') t.phase = 'Pending';
        continue;
      }
      Object.assign(p, { reason, message });
      if (retryable(reason) && p.attempts.started <= spec.retries) {
        p.phase = 'Pending';
        p.attempts.notBefore = now + backoff(p.attempts);
        continue;
      }
      p.phase = reason === 'Diverged' ? 'Diverged' : 'Failed';
      for (const t of trialsOfKey(p.key).filter(open)) {
        Object.assign(t, {
          phase: reason === 'Diverged' ? 'Diverged' : 'Failed',
          reason,
          message: `pre-training ${p.key}: ${message}`,
        });
      }
      continue;
    }
    const t = state.trials[workload.trial.name];
    if (!t || t.phase !== 'Finetuning') continue;
    if (reason === 'Completed') {
      t.phase = 'Succeeded';
      t.objective = observation.validationMetricsOf(t.trial)?.[objectiveName];
      continue;
    }
    Object.assign(t, { reason, message });
    if (retryable(reason) && t.finetune.started <= spec.retries) {
      t.phase = 'Pending';
      t.finetune.notBefore = now + backoff(t.finetune);
    } else {
      t.phase = reason === 'Diverged' || reason === 'Pruned' ? reason : 'Failed';
      if (reason === 'Pruned') t.prunedAt = observation.pruned?.get(t.trial.name);
    }
  }

  const counts = countSweep(state);
  if (
    spec.maxFailedTrials !== undefined &&
    counts.failed + counts.diverged > spec.maxFailedTrials &&
    state.phase !== 'Failed'
  ) {
    state.phase = 'Failed';
    state.reason = `MaxFailedTrials: ${counts.failed + counts.diverged} trials failed, more than ${spec.maxFailedTrials}`;
    state.finishedAt = now;
  }
  const stop = pruned.map((end) => end.workload.name);
  if (state.phase === 'Failed') return { start: [], stop: [...observation.running], pruned };
  if (spec.search) {
    try {
      // Asked after the fold: the sampler is told what ended in this pass.
      if (askSuggestions(state).length > 0) byKey = trialsByKey(state);
    } catch (error) {
      if (!(error instanceof SweepValidationError)) throw error;
      state.phase = 'Failed';
      state.reason = `SearchFailed: ${error.message}`;
      state.finishedAt = now;
      return { start: [], stop: [...observation.running], pruned };
    }
  }
  if (
    Object.keys(state.trials).length > 0 &&
    Object.values(state.trials).every((t) => !open(t)) &&
    (!spec.search || searchFinished(state))
  ) {
    state.phase = 'Succeeded';
    state.finishedAt ??= now;
    return { start: [], stop, pruned };
  }

  const start: Workload[] = [];
  let slots = spec.parallelism - running.size;
  const ready = (attempts: Attempts) => (attempts.notBefore ?? 0) <= now;
  // A run already in the store (another sweep or an earlier run made it) needs no workload.
  for (const p of Object.values(state.pretrainings)) {
    if (p.phase === 'Pending' && observation.pretrained(p.key)) p.phase = 'Succeeded';
  }
  // Trials whose key is ready (or that have none) go first: results come in while other keys
  // pre-train.
  for (const t of Object.values(state.trials)) {
    if (slots <= 0) break;
    if (t.phase !== 'Pending' && t.phase !== 'Pretraining') continue;
    const key = t.trial.pretrainKey;
    if (key !== undefined && state.pretrainings[key]?.phase !== 'Succeeded') continue;
    if (!ready(t.finetune)) continue;
    slots -= 1;
    t.phase = 'Finetuning';
    t.finetune.started += 1;
    t.finetune.notBefore = undefined;
    start.push(workload('finetune', t.trial, t.finetune.started));
  }
  for (const p of Object.values(state.pretrainings)) {
    if (slots <= 0) break;
    if (p.phase !== 'Pending' || !ready(p.attempts)) continue;
    const waiting = trialsOfKey(p.key).filter(open);
    if (waiting.length === 0) continue;
    slots -= 1;
    start.push(pretrainWorkload(p, state));
    for (const t of waiting) t.phase = 'Pretraining';
  }
  if (start.length > 0 || running.size > 0) {
    state.phase = 'Running';
    // Running again (the Sweep gained trials): it has not finished.
    state.finishedAt = undefined;
  }
  return { start, stop, pruned };
}

/**
 * The running fine-tunings of trials the pruner stopped, as ends with reason Pruned; they
 * leave `running` (their slot is free now).
 */
function prunedWorkloads(
  state: SweepState,
  observation: Observation,
  running: Set<string>,
): WorkloadEnd[] {
  const ends: WorkloadEnd[] = [];
  for (const [trial, { step }] of observation.pruned ?? []) {
    const t = state.trials[trial];
    if (t?.phase !== 'Finetuning') continue;
    const stopped = workload('finetune', t.trial, t.finetune.started);
    if (!running.delete(stopped.name)) continue;
    const pruner = state.sweep.spec.pruner?.type;
    ends.push({
      workload: stopped,
      reason: 'Pruned',
      message: `stopped by the ${pruner} pruner at step ${step}`,
    });
  }
  return ends;
}

function pretrainWorkload(p: PretrainState, state: SweepState): Workload {
  p.phase = 'Running';
  p.attempts.started += 1;
  p.attempts.notBefore = undefined;
  return workload('pretrain', leadTrial(state, p), p.attempts.started);
}

/** The trial whose config a key's pre-training runs (initialState gave the key one). */
export function leadTrial(state: SweepState, p: PretrainState): PretrainedTrial {
  const trial = state.trials[p.trial]?.trial;
  if (!trial || !hasPretraining(trial))
    throw new Error(`pre-training ${p.key}: its trial ${p.trial} has no pre-training stage`);
  return trial;
}

/** The trials of each pre-training key, in trial order; trials without one are left out. */
export function trialsByKey(state: SweepState): Map<string, TrialState[]> {
  const byKey = new Map<string, TrialState[]>();
  for (const t of Object.values(state.trials)) {
    const key = t.trial.pretrainKey;
    if (key === undefined) continue;
    const trials = byKey.get(key);
    if (trials) trials.push(t);
    else byKey.set(key, [t]);
  }
  return byKey;
}

function retryable(reason: EndReason): boolean {
  return reason === 'TrainerError' || reason === 'Interrupted';
}
