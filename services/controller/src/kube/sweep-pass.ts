/**
 * One pass over a valid Sweep, in four steps: observe (the caches' Trials, Jobs and Pods as a
 * SweepState), decide (the pure `reconcile`), act (create the Jobs it starts, delete the ones
 * it stops, create missing Trials), status (write the Trial and Sweep statuses that changed).
 * Jobs are created before the statuses that name them: a controller killed in between finds
 * the Job on its restart and adopts it (see cluster-state.ts), so no Job is ever made twice.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  hasPretraining,
  type SweepObject,
  type SweepResource,
  type SweepStatus,
  type Trial,
  type TrialObject,
} from '@masksweep/api';
import {
  createIfAbsent,
  deleteIfPresent,
  exists,
  type Informer,
  type KubeClient,
  type KubeObject,
  patchStatus,
} from '@masksweep/kube';
import { type Actions, reconcile, type Workload, type WorkloadEnd } from '../reconcile.js';
import type { PrunedAt, SweepState } from '../state.js';
import { cachedTrial } from './cache.js';
import { type ObservedSweep, observeSweep } from './cluster-state.js';
import type { CompiledControllerOptions, ReconcilePass } from './options.js';
import {
  type CachedTrial,
  type JobObject,
  jobName,
  jobObject,
  LABELS,
  type PodObject,
  paths,
  trialObject,
} from './resources.js';
import { mergePatch, sameStatus, sweepStatus, trialStatus } from './status.js';

/** What a pass reads and writes through. */
export interface PassContext {
  options: CompiledControllerOptions;
  trials: Informer<CachedTrial>;
  jobs: Informer<JobObject>;
  pods: Informer<PodObject>;
  /** Trials the Sweep's pruner stopped, with the step and value of each. */
  pruned: ReadonlyMap<string, PrunedAt> | undefined;
  /** Given the reconciled state before any Job starts (the pruner reads trial phases from it). */
  reconciled(state: SweepState): void;
}

/** A Sweep that passed validation, with its expansion. */
export interface ValidSweep {
  sweep: SweepObject;
  resource: SweepResource;
  trials: readonly Trial[];
}

export interface PassOutcome {
  pass: Omit<ReconcilePass, 'sweep' | 'durationMs'>;
  state: SweepState;
  /** When a waiting retry is due, if any. */
  retryAt: number | undefined;
}

interface Observation {
  /** The Sweep's phase as the pass found it. */
  phaseBefore: string | undefined;
  observed: ObservedSweep;
  trialObjects: Map<string, CachedTrial>;
  ended: WorkloadEnd[];
}

export async function sweepPass(context: PassContext, read: ValidSweep): Promise<PassOutcome> {
  const now = new Date().toISOString();
  // The pass's own copy: its status moves on as the pass writes it; the cache's stays as read.
  const valid = { ...read, sweep: { ...read.sweep } };
  const observation = await observe(context, valid);
  const actions = decide(context, valid, observation);
  const write = limiter(context.options.writeConcurrency);
  const acted = await act(context, valid, observation, actions, write, now);
  const statusWrites = await writeStatuses(context, valid, observation, write, now);
  const { state } = observation.observed;
  return {
    pass: { ...acted, statusWrites, ended: observation.ended.length, phase: state.phase },
    state,
    retryAt: retryTime(state),
  };
}

/** The Sweep's Trials, Jobs and Pods in the caches, as a state; a missing Job is confirmed. */
async function observe(context: PassContext, valid: ValidSweep): Promise<Observation> {
  const { sweep, resource, trials } = valid;
  const { namespace, name } = sweep.metadata as { namespace: string; name: string };
  const trialObjects = new Map<string, CachedTrial>();
  for (const trial of trials) {
    const object = context.trials.get(namespace, trial.name);
    if (object && isOwnedBy(object, sweep)) trialObjects.set(trial.name, object);
  }
  const jobs = context.jobs
    .list()
    .filter(
      (job) =>
        job.metadata.namespace === namespace &&
        job.metadata.labels[LABELS.sweep] === name &&
        isOwnedBy(job, sweep),
    );
  // The namespace's pods by Job, indexed once per pass on the first Job that ended.
  let podsByJob: Map<string, PodObject[]> | undefined;
  const observed = observeSweep({
    sweep,
    resource,
    trials,
    trialObjects,
    jobs,
    podsOf: (job) => {
      podsByJob ??= podsOfJobs(context.pods, namespace);
      return podsByJob.get(job.metadata.name) ?? [];
    },
    jobNameOf: (workload) => jobName(name, workload),
  });
  const ended: WorkloadEnd[] = [...observed.ended];
  for (const { workload, job } of observed.missing) {
    if (await exists(context.options.client, `${paths.jobs(namespace)}/${job}`)) {
      // Created a moment ago and not yet in the cache: it runs.
      observed.running.set(workload.name, job);
      continue;
    }
    ended.push({ workload, reason: 'Interrupted', message: `Job ${job} was deleted` });
  }
  return { phaseBefore: sweep.status?.phase, observed, trialObjects, ended };
}

/** The pure reconcile over the observation; tells of every workload that ended. */
function decide(context: PassContext, valid: ValidSweep, observation: Observation): Actions {
  const { options } = context;
  const { observed, ended } = observation;
  const { namespace, name } = valid.sweep.metadata as { namespace: string; name: string };
  const pretrainedKeys = pretrainedKeysOf(context.trials, namespace);
  const actions = reconcile(
    observed.state,
    {
      running: new Set(observed.running.keys()),
      ended,
      pretrained: (key) =>
        pretrainedKeys.has(key) ||
        (options.artifactsDir !== undefined &&
          existsSync(join(options.artifactsDir, 'pretrain', key, 'weights.bin'))),
      validationMetricsOf: (trial) => observed.valMetrics.get(trial.name),
      pruned: context.pruned,
      now: Date.now(),
    },
    { retryBackoffMs: options.retryBackoffMs },
  );
  ended.push(...actions.pruned);
  // Before the Jobs start, so that a report of a new Job never meets the phases from before.
  context.reconciled(observed.state);
  for (const end of ended) {
    options.onEnded(end.reason);
    options.log(end.reason === 'Completed' ? 'info' : 'warn', 'workload ended', {
      namespace,
      sweep: name,
      trial: end.workload.trial.name,
      job: jobName(name, end.workload),
      stage: end.workload.stage,
      attempt: end.workload.attempt,
      reason: end.reason,
      message: end.message,
    });
  }
  return actions;
}

/** Creates the Jobs the reconcile starts, deletes the ones it stops, creates missing Trials. */
async function act(
  context: PassContext,
  valid: ValidSweep,
  observation: Observation,
  actions: Actions,
  write: Limiter,
  now: string,
): Promise<Pick<ReconcilePass, 'jobsCreated' | 'jobsDeleted' | 'trialsCreated'>> {
  const { client, jobs: settings, log } = context.options;
  const { sweep } = valid;
  const namespace = sweep.metadata.namespace as string;
  const { observed, trialObjects } = observation;
  let jobsCreated = 0;
  await Promise.all(
    actions.start.map((workload: Workload) =>
      write(async () => {
        const job = jobObject(sweep, workload, settings);
        if (await createIfAbsent(client, paths.jobs(namespace), job)) jobsCreated += 1;
      }),
    ),
  );
  const toStop = [
    ...actions.stop
      .map((workloadName) => observed.running.get(workloadName))
      .filter((job): job is string => !!job),
    ...observed.stale,
  ];
  await Promise.all(
    toStop.map((job) =>
      write(async () => {
        if (await deleteIfPresent(client, `${paths.jobs(namespace)}/${job}`))
          log('info', 'deleted job', { namespace, job });
      }),
    ),
  );

  let trialsCreated = 0;
  const toCreate = valid.trials.filter((trial) => !trialObjects.has(trial.name));
  if (toCreate.length > 0) {
    // Making 10,000 Trials takes minutes: the Sweep's status shows the pass's state first.
    sweep.status = await writeSweepStatus(
      client,
      sweep,
      sweepStatus(observed.state, sweep, trialObjects.size, now),
    );
  }
  await Promise.all(
    toCreate.map((trial) =>
      write(async () => {
        const created = await createIfAbsent(
          client,
          paths.trials(namespace),
          trialObject(sweep, trial),
        );
        if (!created) return;
        trialsCreated += 1;
        // What the cache would keep: the whole object of 10,000 Trials is most of a pass's memory.
        trialObjects.set(trial.name, cachedTrial(created as TrialObject));
      }),
    ),
  );
  return { jobsCreated, jobsDeleted: toStop.length, trialsCreated };
}

/** Writes each Trial status that changed, then the Sweep's; returns the Trial writes. */
async function writeStatuses(
  context: PassContext,
  valid: ValidSweep,
  observation: Observation,
  write: Limiter,
  now: string,
): Promise<number> {
  const { client, log } = context.options;
  const { sweep } = valid;
  const { namespace, name } = sweep.metadata as { namespace: string; name: string };
  const { state } = observation.observed;
  const { trialObjects } = observation;
  const leads = new Map(Object.values(state.pretrainings).map((p) => [p.trial, p]));
  let statusWrites = 0;
  await Promise.all(
    Object.values(state.trials).map((t) => {
      const object = trialObjects.get(t.trial.name);
      if (!object) return undefined;
      // Only a trial with a pre-training stage waits in Pretraining.
      const stageJob =
        t.phase === 'Pretraining' && hasPretraining(t.trial)
          ? jobName(name, {
              stage: 'pretrain',
              trial: t.trial,
              attempt: state.pretrainings[t.trial.pretrainKey]?.attempts.started ?? 0,
            })
          : t.finetune.started > 0
            ? jobName(name, { stage: 'finetune', trial: t.trial, attempt: t.finetune.started })
            : undefined;
      const desired = trialStatus(t, leads.get(t.trial.name), object.status, stageJob, now);
      if (sameStatus(desired, object.status)) return undefined;
      return write(async () => {
        const path = `${paths.trials(namespace)}/${object.metadata.name}`;
        await patchStatus(client, path, mergePatch(object.status, desired));
        statusWrites += 1;
      });
    }),
  );
  const created = valid.trials.filter((trial) => trialObjects.has(trial.name)).length;
  await writeSweepStatus(client, sweep, sweepStatus(state, sweep, created, now));
  if (state.phase !== observation.phaseBefore)
    log('info', `sweep is ${state.phase}`, { namespace, sweep: name, reason: state.reason });
  return statusWrites;
}

/** Writes a Sweep's status unless it says the same; returns the status it now has. */
export async function writeSweepStatus(
  client: KubeClient,
  sweep: SweepObject,
  status: SweepStatus,
): Promise<SweepStatus | undefined> {
  if (sameStatus(status, sweep.status)) return sweep.status;
  const path = `${paths.sweeps(sweep.metadata.namespace)}/${sweep.metadata.name}`;
  await patchStatus(client, path, mergePatch(sweep.status, status));
  return status;
}

/** The earliest retry time still to come, of a trial or a pre-training. */
function retryTime(state: SweepState): number | undefined {
  const now = Date.now();
  const retryTimes = [
    ...Object.values(state.trials).map((t) =>
      t.phase === 'Pending' ? t.finetune.notBefore : undefined,
    ),
    ...Object.values(state.pretrainings).map((p) =>
      p.phase === 'Pending' ? p.attempts.notBefore : undefined,
    ),
  ].filter((at): at is number => at !== undefined && at > now);
  return retryTimes.length > 0 ? Math.min(...retryTimes) : undefined;
}

/** The pods of a namespace by their Job (the `job-name` label). */
function podsOfJobs(pods: Informer<PodObject>, namespace: string): Map<string, PodObject[]> {
  const byJob = new Map<string, PodObject[]>();
  for (const pod of pods.list()) {
    const job = pod.metadata.labels?.['job-name'];
    if (pod.metadata.namespace !== namespace || job === undefined) continue;
    const list = byJob.get(job);
    if (list) list.push(pod);
    else byJob.set(job, [pod]);
  }
  return byJob;
}

/** Keys whose pre-training succeeded in any Sweep of the namespace. */
function pretrainedKeysOf(trials: Informer<CachedTrial>, namespace: string): Set<string> {
  const keys = new Set<string>();
  for (const trial of trials.list()) {
    const key = trial.spec.pretrainKey;
    if (
      key !== undefined &&
      trial.metadata.namespace === namespace &&
      trial.status?.pretrain?.phase === 'Succeeded'
    )
      keys.add(key);
  }
  return keys;
}

export function isOwnedBy(object: KubeObject, sweep: SweepObject): boolean {
  return (object.metadata.ownerReferences ?? []).some((owner) => owner.uid === sweep.metadata.uid);
}

type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** Runs at most `limit` tasks at once. */
function limiter(limit: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}
