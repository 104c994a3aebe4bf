/**
 * The sweep's state as the cluster holds it, read into the reconcile's `SweepState`: trial
 * phases and attempts from Trial statuses, each key's pre-training from the status of the
 * key's first trial, and the workloads from Jobs. A Job newer than the status that should
 * name it (the controller died between creating it and writing the status) is adopted; a
 * Job that ended is an ended workload; a workload whose Job is gone was interrupted.
 */
import type { SweepObject, SweepResource, Trial } from '@masksweep/api';
import { initialState, leadTrial, trialsByKey, type WorkloadEnd, workload } from '../reconcile.js';
import type { SweepState, TrialState } from '../state.js';
import {
  type CachedTrial,
  type JobEnd,
  type JobObject,
  jobEnd,
  jobEnded,
  LABELS,
  type PodObject,
} from './resources.js';

export interface ObservedSweep {
  state: SweepState;
  /** Workload names (as the reconcile names them) of the Jobs running now, with their Jobs. */
  running: Map<string, string>;
  ended: WorkloadEnd[];
  /** Trial name -> validation metrics of its finished fine-tuning (wire names). */
  valMetrics: Map<string, Record<string, number>>;
  /** Workloads whose Job was not found: confirm with a GET before calling them interrupted. */
  missing: Array<{ workload: WorkloadEnd['workload']; job: string }>;
  /** Jobs of superseded attempts that still run. */
  stale: string[];
}

export interface ClusterView {
  sweep: SweepObject;
  /** The validated Sweep (defaults filled in). */
  resource: SweepResource;
  /** The Sweep's trials, in expansion order (up to maxTrials). */
  trials: readonly Trial[];
  trialObjects: ReadonlyMap<string, CachedTrial>;
  jobs: readonly JobObject[];
  /** The pods of a Job (by their `job-name` label): called only for a Job that ended. */
  podsOf: (job: JobObject) => readonly PodObject[];
  jobNameOf: (workload: WorkloadEnd['workload']) => string;
}

export function observeSweep(view: ClusterView): ObservedSweep {
  const { sweep, resource } = view;
  const startedAt = Date.parse(sweep.status?.startTime ?? '') || Date.now();
  const state = initialState(resource, '', startedAt, [...view.trials]);
  state.phase = sweep.status?.phase === 'Invalid' ? 'Created' : (sweep.status?.phase ?? 'Created');
  const finished = Date.parse(sweep.status?.completionTime ?? '');
  if (finished) state.finishedAt = finished;
  const failedCondition = sweep.status?.conditions?.find(
    (c) => c.type === 'Failed' && c.status === 'True',
  );
  if (failedCondition) state.reason = `${failedCondition.reason}: ${failedCondition.message}`;

  for (const t of Object.values(state.trials)) {
    const status = view.trialObjects.get(t.trial.name)?.status;
    if (!status) continue;
    t.phase = status.phase ?? 'Pending';
    t.finetune = { started: status.finetuneAttempts ?? 0, notBefore: time(status.retryAfter) };
    Object.assign(
      t,
      definedOnly({ reason: status.reason, message: status.message, objective: status.objective }),
    );
  }
  for (const p of Object.values(state.pretrainings)) {
    const status = view.trialObjects.get(p.trial)?.status?.pretrain;
    if (!status) continue;
    p.phase = status.phase;
    p.attempts = { started: status.attempts, notBefore: time(status.retryAfter) };
    Object.assign(p, definedOnly({ reason: status.reason, message: status.message }));
  }

  const observed: ObservedSweep = {
    state,
    running: new Map(),
    ended: [],
    valMetrics: new Map(),
    missing: [],
    stale: [],
  };
  const jobsByName = new Map(view.jobs.map((job) => [job.metadata.name, job]));
  const settle = (workload: WorkloadEnd['workload']) => {
    const name = view.jobNameOf(workload);
    const job = jobsByName.get(name);
    if (!job) {
      observed.missing.push({ workload, job: name });
      return;
    }
    if (!jobEnded(job)) {
      observed.running.set(workload.name, name);
      return;
    }
    const end = jobEnd(job, view.podsOf(job)) as JobEnd;
    observed.ended.push({ workload, reason: end.reason, message: end.message });
    if (end.valMetrics) observed.valMetrics.set(workload.trial.name, end.valMetrics);
  };

  // Each key's trials, built on the first adoption of a pre-training Job (rare: a crash).
  let byKey: Map<string, TrialState[]> | undefined;
  const trialsOfKey = (key: string): readonly TrialState[] => {
    byKey ??= trialsByKey(state);
    return byKey.get(key) ?? [];
  };
  // Adopt Jobs whose attempt the statuses do not know yet.
  for (const job of view.jobs) {
    const labels = job.metadata.labels;
    const attempt = Number(labels[LABELS.attempt]);
    if (labels[LABELS.stage] === 'pretrain') {
      const p = state.pretrainings[labels[LABELS.pretrainKey] ?? ''];
      if (!p || attempt <= p.attempts.started) continue;
      p.attempts = { started: attempt };
      p.phase = 'Running';
      for (const t of trialsOfKey(p.key)) if (t.phase === 'Pending') t.phase = 'Pretraining';
    } else {
      const t = state.trials[labels[LABELS.trial] ?? ''];
      if (!t || attempt <= t.finetune.started) continue;
      t.finetune = { started: attempt };
      t.phase = 'Finetuning';
    }
  }
  const current = new Set<string>();
  for (const p of Object.values(state.pretrainings)) {
    if (p.phase !== 'Running') continue;
    const pretraining = workload('pretrain', leadTrial(state, p), p.attempts.started);
    current.add(view.jobNameOf(pretraining));
    settle(pretraining);
  }
  for (const t of Object.values(state.trials)) {
    if (t.phase !== 'Finetuning') continue;
    const finetuning = workload('finetune', t.trial, t.finetune.started);
    current.add(view.jobNameOf(finetuning));
    settle(finetuning);
  }
  for (const job of view.jobs) {
    if (current.has(job.metadata.name)) continue;
    if (!jobEnded(job)) observed.stale.push(job.metadata.name);
  }
  return observed;
}

function time(text: string | undefined): number | undefined {
  const value = Date.parse(text ?? '');
  return Number.isNaN(value) ? undefined : value;
}

function definedOnly<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
