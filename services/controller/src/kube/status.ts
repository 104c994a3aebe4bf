/**
 * Statuses computed from the reconciled state: a Trial's phase, attempts, reason and
 * conditions; a Sweep's counters, conditions and best trial (never a list of trials, so a
 * 10,000-trial Sweep stays a small object). Conditions keep their lastTransitionTime while
 * their status does not change.
 */
import type { Condition, SweepObject, SweepStatus, TrialStatus } from '@masksweep/api';
import { countSweep, type PretrainState, type SweepState, type TrialState } from '../state.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Sets a condition in place of the one of its type; its time changes only with its status. */
export function setCondition(conditions: Condition[], next: Condition, now: string): Condition[] {
  const old = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    old && old.status === next.status ? (old.lastTransitionTime ?? now) : now;
  // The API server of 1.20 reads an empty message as null and refuses it: leave it out.
  const { message, ...rest } = next;
  return [
    ...conditions.filter((c) => c.type !== next.type),
    { ...rest, ...(message && { message }), lastTransitionTime },
  ];
}

export function trialStatus(
  t: TrialState,
  pretrain: PretrainState | undefined,
  previous: TrialStatus | undefined,
  jobName: string | undefined,
  now: string,
): TrialStatus {
  const running = t.phase === 'Pretraining' || t.phase === 'Finetuning';
  const terminal = ['Succeeded', 'Failed', 'Diverged', 'Pruned'].includes(t.phase);
  let conditions = previous?.conditions ?? [];
  conditions = setCondition(
    conditions,
    {
      type: 'Running',
      status: running ? 'True' : 'False',
      reason: running ? t.phase : t.phase === 'Pending' ? 'Waiting' : t.phase,
    },
    now,
  );
  if (terminal) {
    const type = t.phase === 'Diverged' ? 'Failed' : t.phase;
    conditions = setCondition(
      conditions,
      { type, status: 'True', reason: t.reason ?? t.phase, message: t.message ?? '' },
      now,
    );
  }
  const status: TrialStatus = {
    phase: t.phase,
    finetuneAttempts: t.finetune.started,
    conditions,
  };
  if (t.phase === 'Pretraining' && pretrain) {
    status.stage = 'pretrain';
    status.attempt = pretrain.attempts.started;
  } else if (t.phase === 'Finetuning' || t.finetune.started > 0) {
    status.stage = 'finetune';
    status.attempt = t.finetune.started;
  }
  if (jobName) status.job = jobName;
  if (t.objective !== undefined) status.objective = t.objective;
  if (t.reason) status.reason = t.reason;
  if (t.message) status.message = t.message;
  if (t.finetune.notBefore !== undefined && t.phase === 'Pending')
    status.retryAfter = iso(t.finetune.notBefore);
  if (pretrain) {
    status.pretrain = { phase: pretrain.phase, attempts: pretrain.attempts.started };
    if (pretrain.attempts.notBefore !== undefined && pretrain.phase === 'Pending')
      status.pretrain.retryAfter = iso(pretrain.attempts.notBefore);
    if (pretrain.reason) status.pretrain.reason = pretrain.reason;
    if (pretrain.message) status.pretrain.message = pretrain.message;
  }
  const startTime = previous?.startTime ?? (t.phase !== 'Pending' ? now : undefined);
  if (startTime) status.startTime = startTime;
  if (terminal) status.completionTime = previous?.completionTime ?? now;
  return status;
}

export function sweepStatus(
  state: SweepState,
  sweep: SweepObject,
  created: number,
  now: string,
): SweepStatus {
  const counts = countSweep(state);
  const previous = sweep.status;
  // A pass that works ends what the last generation's or the last passes' failure said.
  let conditions =
    previous?.conditions?.filter((c) => c.type !== 'Invalid' && c.reason !== RECONCILE_FAILED) ??
    [];
  const generation = sweep.metadata.generation;
  const mark = (type: string, on: boolean, reason: string, message = '') => {
    conditions = setCondition(
      conditions,
      { type, status: on ? 'True' : 'False', reason, message, observedGeneration: generation },
      now,
    );
  };
  mark('Created', true, 'TrialsCreated', `${created} of ${counts.total} trials created`);
  mark(
    'Running',
    state.phase === 'Running',
    state.phase === 'Running' ? 'TrialsRunning' : state.phase,
  );
  mark(
    'Succeeded',
    state.phase === 'Succeeded',
    state.phase === 'Succeeded' ? 'AllTrialsEnded' : 'TrialsOpen',
    `${counts.succeeded} of ${counts.total} trials succeeded`,
  );
  if (state.phase === 'Failed') {
    const [reason, ...message] = (state.reason ?? 'Failed').split(': ');
    mark('Failed', true, reason ?? 'Failed', message.join(': '));
  }
  const status: SweepStatus = {
    phase: state.phase,
    observedGeneration: generation,
    progress: `${counts.succeeded}/${counts.total}`,
    trials: {
      total: counts.total,
      created,
      pending: counts.pending,
      running: counts.running,
      succeeded: counts.succeeded,
      failed: counts.failed,
      diverged: counts.diverged,
      pruned: counts.pruned,
    },
    pretrainings: { total: counts.pretrainings.total, succeeded: counts.pretrainings.succeeded },
    conditions,
    startTime: previous?.startTime ?? iso(state.startedAt),
  };
  if (counts.best) status.bestTrial = { name: counts.best.trial, objective: counts.best.objective };
  if (state.finishedAt !== undefined)
    status.completionTime = previous?.completionTime ?? iso(state.finishedAt);
  return status;
}

/** Problems an Invalid condition lists: 2,048 bad mask values would make a 200 kB message. */
const LISTED_PROBLEMS = 20;

/** The status of a Sweep that cannot run: each problem with its field (the first 20). */
export function invalidStatus(sweep: SweepObject, problems: string[], now: string): SweepStatus {
  const listed = problems.slice(0, LISTED_PROBLEMS);
  if (problems.length > listed.length)
    listed.push(`and ${problems.length - listed.length} more problems`);
  const conditions = setCondition(
    sweep.status?.conditions ?? [],
    {
      type: 'Invalid',
      status: 'True',
      reason: 'InvalidSpec',
      message: listed.join('; '),
      observedGeneration: sweep.metadata.generation,
    },
    now,
  );
  return {
    ...sweep.status,
    phase: 'Invalid',
    observedGeneration: sweep.metadata.generation,
    conditions,
  };
}

/** The reason of the Failed condition of a Sweep whose passes kept failing. */
export const RECONCILE_FAILED = 'ReconcileFailed';

/**
 * The status of a Sweep whose reconcile passes kept failing: Failed, with the last error (its
 * counters and conditions as the last pass that worked left them).
 */
export function failedStatus(sweep: SweepObject, message: string, now: string): SweepStatus {
  const conditions = setCondition(
    sweep.status?.conditions ?? [],
    {
      type: 'Failed',
      status: 'True',
      reason: RECONCILE_FAILED,
      message,
      observedGeneration: sweep.metadata.generation,
    },
    now,
  );
  return {
    ...sweep.status,
    phase: 'Failed',
    observedGeneration: sweep.metadata.generation,
    conditions,
    completionTime: sweep.status?.completionTime ?? now,
  };
}

/**
 * Whether two statuses say the same as JSON: fields in any order, a field that is undefined
 * the same as one left out. Compared in place (a pass compares 10,000 Trial statuses).
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    // JSON writes an undefined element as null.
    return a.every((x, i) => sameStatus(x ?? null, b[i] ?? null));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    let fields = 0;
    for (const key in a) {
      if (a[key] === undefined) continue;
      fields += 1;
      if (!sameStatus(a[key], b[key])) return false;
    }
    for (const key in b) if (b[key] !== undefined) fields -= 1;
    return fields === 0;
  }
  // JSON writes NaN and the infinities as null.
  return (
    typeof a === 'number' && typeof b === 'number' && !Number.isFinite(a) && !Number.isFinite(b)
  );
}

/**
 * The JSON merge patch (RFC 7386) from `previous` to `desired`: a field `desired` lacks is
 * sent as null, since a merge patch leaves out what it does not name.
 */
export function mergePatch(previous: unknown, desired: unknown): unknown {
  if (!isPlainObject(previous) || !isPlainObject(desired)) return desired;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(previous))
    if (!(key in desired) || desired[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(desired)) {
    if (value === undefined) continue;
    patch[key] = mergePatch(previous[key], value);
  }
  return patch;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
