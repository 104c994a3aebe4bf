/**
 * The Sweep controller on a cluster: informers on Sweeps, Trials, Jobs and Pods; a queue that
 * runs at most one reconcile per Sweep at a time (changes that arrive meanwhile coalesce into
 * one more pass); each pass in the fixed order: get the Sweep (gone: done), validate it
 * (Invalid: status only, nothing created), observe Trials and Jobs, reconcile, create the
 * Jobs it starts, create missing Trials, write the Trial and Sweep statuses, requeue for the
 * next retry time. Jobs are created before the statuses that name them: a controller killed
 * in between finds the Job on its restart and adopts it (see cluster-state.ts), so no Job is
 * ever made twice and no attempt is lost.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  findProblems,
  type SweepObject,
  type SweepResource,
  type Trial,
  type TrialObject,
} from '@masksweep/api';
import {
  ConflictError,
  Informer,
  type InformerEventType,
  InvalidError,
  type KubeClient,
  type KubeObject,
  NotFoundError,
  objectKey,
} from '@masksweep/kube';
import type { Log, LogLevel } from '@masksweep/log';
import { PruningStreams, type PruningWatch } from '../pruning.js';
import { reconcile, sweepTrials, type Workload, type WorkloadEnd } from '../reconcile.js';
import type { EndReason, SweepState } from '../state.js';
import { observeSweep } from './cluster-state.js';
import {
  type CachedTrial,
  type JobObject,
  type JobSettings,
  jobName,
  jobObject,
  LABELS,
  MANAGER,
  type PodObject,
  paths,
  trialObject,
} from './resources.js';
import { invalidStatus, mergePatch, sameStatus, sweepStatus, trialStatus } from './status.js';

/** How the controller logs (masksweep-controller's is pino's, made by @masksweep/log). */
export type ControllerLog = Log;

export interface KubeControllerOptions {
  client: KubeClient;
  /** Watch one namespace. @default every namespace */
  namespace?: string;
  jobs: JobSettings;
  /** The artifact store, when mounted here: a key whose weights are in it needs no pre-training. */
  artifactsDir?: string;
  /** First retry delay, doubling per retry up to 5 minutes. @default 10000 */
  retryBackoffMs?: number;
  /** Every Sweep is reconciled at least this often. @default 30000 */
  resyncMs?: number;
  /** Sweeps reconciled at once. @default 4 */
  workers?: number;
  /** API writes in flight at once within one reconcile. @default 16 */
  writeConcurrency?: number;
  log?: ControllerLog;
  /** Called after each reconcile pass with its duration and the number of transitions. */
  onPass?: (pass: ReconcilePass) => void;
  /**
   * Registers the Sweep with the leaderboard, which stores results only of registered Sweeps.
   * Called before the first Job of each generation; a failure holds the Jobs back (retried).
   */
  registerSweep?: (sweep: SweepResource, trialCount: number) => Promise<void>;
  /** The NATS the trials publish to: Sweeps with `spec.pruner` are pruned from it. */
  natsUrl?: string;
  /** Called for each stage attempt that ended, with its reason. */
  onEnded?: (reason: EndReason) => void;
  /** Called when a reconcile pass failed (it is retried). */
  onError?: (error: Error) => void;
}

export interface ReconcilePass {
  sweep: string;
  durationMs: number;
  jobsCreated: number;
  jobsDeleted: number;
  trialsCreated: number;
  statusWrites: number;
  ended: number;
  phase: string;
}

interface Expansion {
  generation: number | undefined;
  resource?: SweepResource;
  trials: Trial[];
  problems: string[];
}

/** An expansion as kept per Sweep, with what was done once for its generation. */
interface CachedExpansion extends Expansion {
  uid?: string;
  registered?: boolean;
  /** The API server accepted a dry-run Trial of each method. */
  trialsAccepted?: boolean;
}

export class KubeController {
  readonly #options: KubeControllerOptions;
  readonly #sweeps: Informer<SweepObject>;
  readonly #trials: Informer<CachedTrial>;
  readonly #jobs: Informer<JobObject>;
  readonly #pods: Informer<PodObject>;
  readonly #expansions = new Map<string, CachedExpansion>();
  /** Per Sweep key: a pass runs (dirty: run again after it), or waits for a worker. */
  readonly #queue = new Map<string, { running: boolean; dirty: boolean }>();
  readonly #waiting: string[] = [];
  /** Per Sweep key: the latest reconciled state, for the pruner. */
  readonly #states = new Map<string, SweepState>();
  /** Per Sweep key: the pruner's watch of its generation, and the trials it stopped (step). */
  readonly #pruning = new Map<
    string,
    {
      generation: string;
      watch: Promise<PruningWatch | undefined>;
      stopped: Map<string, number>;
    }
  >();
  /** One NATS connection for the pruners of every Sweep. */
  readonly #pruningStreams: PruningStreams;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #active = 0;
  #stopped = false;
  #resync?: NodeJS.Timeout;
  #idle: Array<() => void> = [];

  constructor(options: KubeControllerOptions) {
    this.#options = options;
    this.#pruningStreams = new PruningStreams(options.natsUrl);
    const { client, namespace } = options;
    const managed = `${LABELS.managedBy}=${MANAGER}`;
    const onError = (error: Error) => this.#log('warn', 'watch failed', { error: error.message });
    const enqueueOwner = (_type: InformerEventType, object: KubeObject) => {
      const sweep = object.metadata.labels?.[LABELS.sweep];
      if (sweep) this.enqueue(`${object.metadata.namespace}/${sweep}`);
    };
    this.#sweeps = new Informer<SweepObject>({
      client,
      path: paths.sweeps(namespace),
      onError,
      onEvent: (_type, sweep) => this.enqueue(objectKey(sweep)),
    });
    // The caches keep only what a pass reads (see cachedTrial, cachedJob, cachedPod): at
    // 10,000 trials they are most of the controller's memory.
    this.#trials = new Informer<CachedTrial>({
      client,
      path: paths.trials(namespace),
      labelSelector: managed,
      onError,
      transform: (trial) => cachedTrial(trial as TrialObject),
    });
    this.#jobs = new Informer<JobObject>({
      client,
      path: paths.jobs(namespace),
      labelSelector: managed,
      onError,
      transform: cachedJob,
      onEvent: enqueueOwner,
    });
    this.#pods = new Informer<PodObject>({
      client,
      path: paths.pods(namespace),
      labelSelector: managed,
      onError,
      transform: cachedPod,
    });
  }

  async start(): Promise<void> {
    // Children first: a Sweep's first pass must see the Jobs and Trials that exist.
    await Promise.all([this.#trials.start(), this.#jobs.start(), this.#pods.start()]);
    await this.#sweeps.start();
    const resyncMs = this.#options.resyncMs ?? 30_000;
    this.#resync = setInterval(() => {
      for (const sweep of this.#sweeps.list()) this.enqueue(objectKey(sweep));
    }, resyncMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resync);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    await this.idle();
    await Promise.all([
      this.#sweeps.stop(),
      this.#trials.stop(),
      this.#jobs.stop(),
      this.#pods.stop(),
      ...[...this.#pruning.keys()].map((key) => this.#stopPruning(key)),
    ]);
    await this.#pruningStreams.close();
  }

  /** Resolves when no reconcile runs or waits. */
  idle(): Promise<void> {
    if (this.#active === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  enqueue(key: string): void {
    if (this.#stopped) return;
    const entry = this.#queue.get(key);
    if (entry) {
      entry.dirty = true;
      return;
    }
    this.#queue.set(key, { running: false, dirty: false });
    this.#waiting.push(key);
    this.#drain();
  }

  #drain(): void {
    const workers = this.#options.workers ?? 4;
    while (this.#active < workers && this.#waiting.length > 0) {
      const key = this.#waiting.shift() as string;
      const entry = this.#queue.get(key) as { running: boolean; dirty: boolean };
      entry.running = true;
      entry.dirty = false;
      this.#active += 1;
      void this.#run(key).finally(() => {
        this.#active -= 1;
        if (entry.dirty && !this.#stopped) {
          entry.running = false;
          this.#waiting.push(key);
        } else {
          this.#queue.delete(key);
        }
        this.#drain();
        if (this.#active === 0 && this.#waiting.length === 0)
          for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  async #run(key: string): Promise<void> {
    try {
      const requeueAt = await this.reconcileSweep(key);
      this.#schedule(key, requeueAt);
    } catch (error) {
      this.#options.onError?.(error as Error);
      this.#log('error', 'reconcile failed', { sweep: key, error: (error as Error).message });
      this.#schedule(key, Date.now() + 2_000);
    }
  }

  #schedule(key: string, at: number | undefined): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
    if (at === undefined || this.#stopped) return;
    const timer = setTimeout(
      () => {
        this.#timers.delete(key);
        this.enqueue(key);
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.#timers.set(key, timer);
  }

  /** One pass over a Sweep; returns when it wants to be reconciled again (a retry's time). */
  async reconcileSweep(key: string): Promise<number | undefined> {
    const started = performance.now();
    const [namespace, name] = key.split('/') as [string, string];
    const sweep = this.#sweeps.get(namespace, name);
    // Gone, or going: its Trials and Jobs have owner references, the garbage collector removes them.
    if (!sweep || sweep.metadata.deletionTimestamp) {
      this.#expansions.delete(key);
      this.#states.delete(key);
      await this.#stopPruning(key);
      return undefined;
    }
    const now = new Date().toISOString();
    const expansion = this.#expand(key, sweep);
    if (!expansion.resource) {
      await this.#writeSweepStatus(sweep, invalidStatus(sweep, expansion.problems, now));
      this.#log('warn', 'sweep is invalid', {
        namespace,
        sweep: name,
        problems: expansion.problems,
      });
      return undefined;
    }
    if (!expansion.trialsAccepted) {
      // Before any Job: a Trial the API server refuses (CRDs older than the controller, say)
      // would leave its Jobs running with nothing to report to.
      const refused = await this.#refusedTrials(sweep, expansion.trials);
      if (refused.length > 0) {
        await this.#writeSweepStatus(sweep, invalidStatus(sweep, refused, now));
        this.#log('warn', 'the API server refuses the trials of the sweep', {
          namespace,
          sweep: name,
          problems: refused,
        });
        return undefined;
      }
      expansion.trialsAccepted = true;
    }
    if (this.#options.registerSweep && !expansion.registered) {
      await this.#options.registerSweep(expansion.resource, expansion.trials.length);
      expansion.registered = true;
    }
    const trialObjects = new Map<string, CachedTrial>();
    for (const trial of expansion.trials) {
      const object = this.#trials.get(namespace, trial.name);
      if (object && isOwnedBy(object, sweep)) trialObjects.set(trial.name, object);
    }
    const jobs = this.#jobs
      .list()
      .filter(
        (job) =>
          job.metadata.namespace === namespace &&
          job.metadata.labels[LABELS.sweep] === name &&
          isOwnedBy(job, sweep),
      );
    const jobNameOf = (workload: Pick<Workload, 'stage' | 'trial' | 'attempt'>) =>
      jobName(name, workload);
    // The namespace's pods by Job, indexed once per pass on the first Job that ended.
    let podsByJob: Map<string, PodObject[]> | undefined;
    const observed = observeSweep({
      sweep,
      resource: expansion.resource,
      trials: expansion.trials,
      trialObjects,
      jobs,
      podsOf: (job) => {
        podsByJob ??= this.#podsByJob(namespace);
        return podsByJob.get(job.metadata.name) ?? [];
      },
      jobNameOf,
    });
    const ended: WorkloadEnd[] = [...observed.ended];
    for (const { workload, job } of observed.missing) {
      if (await this.#exists(paths.jobs(namespace), job)) {
        // Created a moment ago and not yet in the cache: it runs.
        observed.running.set(workload.name, job);
        continue;
      }
      ended.push({ workload, reason: 'Interrupted', message: `Job ${job} was deleted` });
    }
    const { state } = observed;
    const pretrainedKeys = this.#pretrainedKeys(namespace);
    const metric = expansion.resource.spec.objective.metric;
    const actions = reconcile(
      state,
      {
        running: new Set(observed.running.keys()),
        ended,
        pretrained: (pretrainKey) =>
          pretrainedKeys.has(pretrainKey) ||
          (this.#options.artifactsDir !== undefined &&
            existsSync(join(this.#options.artifactsDir, 'pretrain', pretrainKey, 'weights.bin'))),
        objectiveOf: (trial) => observed.metrics.get(trial.name)?.[metric],
        pruned: this.#pruning.get(key)?.stopped,
        now: Date.now(),
      },
      { retryBackoffMs: this.#options.retryBackoffMs },
    );
    ended.push(...actions.pruned);
    // The pruner reads trial phases from here: set before the Jobs start, so that a report
    // of a new Job never meets the phases from before this pass.
    this.#states.set(key, state);
    for (const end of ended) this.#options.onEnded?.(end.reason);
    for (const end of ended)
      this.#log(end.reason === 'Completed' ? 'info' : 'warn', 'workload ended', {
        namespace,
        sweep: name,
        trial: end.workload.trial.name,
        job: jobNameOf(end.workload),
        stage: end.workload.stage,
        attempt: end.workload.attempt,
        reason: end.reason,
        message: end.message,
      });

    const write = this.#limiter();
    let jobsCreated = 0;
    await Promise.all(
      actions.start.map((workload) =>
        write(async () => {
          if (
            await this.#create(
              paths.jobs(namespace),
              jobObject(sweep, workload, this.#options.jobs),
            )
          )
            jobsCreated += 1;
        }),
      ),
    );
    const toStop = [
      ...actions.stop
        .map((workloadName) => observed.running.get(workloadName))
        .filter((job): job is string => !!job),
      ...observed.stale,
    ];
    await Promise.all(toStop.map((job) => write(() => this.#deleteJob(namespace, job))));

    let trialsCreated = 0;
    let sweepStatusNow = sweep.status;
    const toCreate = expansion.trials.filter((trial) => !trialObjects.has(trial.name));
    if (toCreate.length > 0) {
      // Making 10,000 Trials takes minutes: the Sweep's status shows the pass's state first.
      sweepStatusNow = await this.#writeSweepStatus(
        sweep,
        sweepStatus(state, sweep, trialObjects.size, now),
      );
    }
    await Promise.all(
      toCreate.map((trial) =>
        write(async () => {
          const created = await this.#create(paths.trials(namespace), trialObject(sweep, trial));
          if (created) {
            trialsCreated += 1;
            // What the cache would keep: the whole object of 10,000 Trials is most of a pass's memory.
            trialObjects.set(trial.name, cachedTrial(created as TrialObject));
          }
        }),
      ),
    );

    const leads = new Map(Object.values(state.pretrainings).map((p) => [p.trial, p]));
    let statusWrites = 0;
    await Promise.all(
      Object.values(state.trials).map((t) => {
        const object = trialObjects.get(t.trial.name);
        if (!object) return undefined;
        const stageJob =
          t.phase === 'Pretraining'
            ? jobNameOf({
                stage: 'pretrain',
                trial: t.trial,
                attempt: state.pretrainings[t.trial.pretrainKey]?.attempts.started ?? 0,
              })
            : t.finetune.started > 0
              ? jobNameOf({ stage: 'finetune', trial: t.trial, attempt: t.finetune.started })
              : undefined;
        const desired = trialStatus(t, leads.get(t.trial.name), object.status, stageJob, now);
        if (sameStatus(desired, object.status)) return undefined;
        return write(async () => {
          await this.#writeStatus(paths.trials(namespace), object, desired);
          statusWrites += 1;
        });
      }),
    );
    const created = expansion.trials.filter((trial) => trialObjects.has(trial.name)).length;
    const current = { ...sweep, status: sweepStatusNow };
    await this.#writeSweepStatus(current, sweepStatus(state, current, created, now));
    if (state.phase !== sweep.status?.phase)
      this.#log('info', `sweep is ${state.phase}`, {
        namespace,
        sweep: name,
        reason: state.reason,
      });

    if (state.phase === 'Succeeded' || state.phase === 'Failed') await this.#stopPruning(key);
    else this.#pruningOf(key, expansion.resource, sweep);
    this.#options.onPass?.({
      sweep: key,
      durationMs: performance.now() - started,
      jobsCreated,
      jobsDeleted: toStop.length,
      trialsCreated,
      statusWrites,
      ended: ended.length,
      phase: state.phase,
    });
    const retryTimes = [
      ...Object.values(state.trials).map((t) =>
        t.phase === 'Pending' ? t.finetune.notBefore : undefined,
      ),
      ...Object.values(state.pretrainings).map((p) =>
        p.phase === 'Pending' ? p.attempts.notBefore : undefined,
      ),
    ].filter((at): at is number => at !== undefined && at > Date.now());
    return retryTimes.length > 0 ? Math.min(...retryTimes) : undefined;
  }

  /** The Sweep validated and expanded, once per generation. */
  #expand(key: string, sweep: SweepObject): CachedExpansion {
    const cached = this.#expansions.get(key);
    if (
      cached &&
      cached.generation === sweep.metadata.generation &&
      cached.uid === sweep.metadata.uid
    )
      return cached;
    const { sweep: resource, problems } = findProblems(
      {
        apiVersion: sweep.apiVersion,
        kind: sweep.kind,
        metadata: sweep.metadata,
        spec: sweep.spec,
      },
      { checkData: false },
    );
    const expansion: CachedExpansion =
      problems.length > 0
        ? {
            generation: sweep.metadata.generation,
            uid: sweep.metadata.uid,
            trials: [],
            problems: problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
          }
        : {
            generation: sweep.metadata.generation,
            uid: sweep.metadata.uid,
            resource,
            trials: sweepTrials(resource),
            problems: [],
          };
    this.#expansions.set(key, expansion);
    return expansion;
  }

  /**
   * The pruner of the Sweep's generation, started on first use (it replays the metric stream
   * from the start, so a restarted controller stops the same trials).
   */
  #pruningOf(key: string, resource: SweepResource, sweep: SweepObject) {
    if (!resource.spec.pruner || !this.#options.natsUrl) return undefined;
    const generation = `${sweep.metadata.uid}/${sweep.metadata.generation}`;
    const current = this.#pruning.get(key);
    if (current?.generation === generation) return current;
    if (current) void this.#stopPruning(key);
    const stopped = new Map<string, number>();
    const watch = this.#pruningStreams
      .watch(
        resource,
        () => this.#states.get(key),
        (trial, step) => {
          if (stopped.has(trial)) return;
          stopped.set(trial, step);
          this.#log('info', 'pruned trial', { sweep: key, trial, step });
          this.enqueue(key);
        },
      )
      .catch((error: Error) => {
        this.#log('warn', 'pruning stream failed', { sweep: key, error: error.message });
        this.#pruning.delete(key);
        return undefined;
      });
    const entry = { generation, watch, stopped };
    this.#pruning.set(key, entry);
    return entry;
  }

  async #stopPruning(key: string): Promise<void> {
    const entry = this.#pruning.get(key);
    if (!entry) return;
    this.#pruning.delete(key);
    await (await entry.watch)?.stop();
  }

  /** The pods of a namespace by their Job (the `job-name` label). */
  #podsByJob(namespace: string): Map<string, PodObject[]> {
    const byJob = new Map<string, PodObject[]>();
    for (const pod of this.#pods.list()) {
      const job = pod.metadata.labels?.['job-name'];
      if (pod.metadata.namespace !== namespace || job === undefined) continue;
      const pods = byJob.get(job);
      if (pods) pods.push(pod);
      else byJob.set(job, [pod]);
    }
    return byJob;
  }

  /** Keys whose pre-training succeeded in any Sweep of the namespace. */
  #pretrainedKeys(namespace: string): Set<string> {
    const keys = new Set<string>();
    for (const trial of this.#trials.list()) {
      if (trial.metadata.namespace === namespace && trial.status?.pretrain?.phase === 'Succeeded')
        keys.add(trial.spec.pretrainKey);
    }
    return keys;
  }

  async #exists(collection: string, name: string): Promise<boolean> {
    try {
      await this.#options.client.call('GET', `${collection}/${name}`);
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /**
   * Asks the API server, without creating anything (`dryRun=All`), whether it accepts the
   * first Trial of each method; returns its refusals, naming the Trial and the field.
   */
  async #refusedTrials(sweep: SweepObject, trials: readonly Trial[]): Promise<string[]> {
    const firstOfMethod = new Map<string, Trial>();
    for (const trial of trials)
      if (!firstOfMethod.has(trial.config.method)) firstOfMethod.set(trial.config.method, trial);
    const collection = paths.trials(sweep.metadata.namespace as string);
    const refused: string[] = [];
    for (const trial of firstOfMethod.values()) {
      try {
        await this.#options.client.call(
          'POST',
          `${collection}?dryRun=All`,
          trialObject(sweep, trial),
        );
      } catch (error) {
        if (error instanceof ConflictError) continue;
        if (!(error instanceof InvalidError)) throw error;
        refused.push(
          `the API server refuses Trial ${trial.name} (${trial.config.method}): ${error.detail}`,
        );
      }
    }
    return refused;
  }

  /** Creates an object; one that exists already (made by an earlier pass) is no error. */
  async #create(collection: string, object: KubeObject): Promise<KubeObject | undefined> {
    try {
      return await this.#options.client.call<KubeObject>('POST', collection, object);
    } catch (error) {
      if (error instanceof ConflictError) return undefined;
      throw error;
    }
  }

  async #deleteJob(namespace: string, job: string): Promise<void> {
    try {
      await this.#options.client.call(
        'DELETE',
        `${paths.jobs(namespace)}/${job}?propagationPolicy=Background`,
      );
      this.#log('info', 'deleted job', { namespace, job });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  async #writeStatus(
    collection: string,
    object: KubeObject & { status?: unknown },
    status: unknown,
  ): Promise<void> {
    try {
      await this.#options.client.call('PATCH', `${collection}/${object.metadata.name}/status`, {
        status: mergePatch(object.status, status),
      });
    } catch (error) {
      // Deleted meanwhile: the next pass sees it.
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  /** Writes a Sweep's status unless it says the same; returns the status it now has. */
  async #writeSweepStatus(
    sweep: SweepObject,
    status: SweepObject['status'],
  ): Promise<SweepObject['status']> {
    if (sameStatus(status, sweep.status)) return sweep.status;
    await this.#writeStatus(paths.sweeps(sweep.metadata.namespace), sweep, status);
    return status;
  }

  /** Runs at most `writeConcurrency` calls at once. */
  #limiter(): <T>(task: () => Promise<T>) => Promise<T> {
    const limit = this.#options.writeConcurrency ?? 16;
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

  #log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    this.#options.log?.(level, message, fields);
  }
}

/**
 * What the cache keeps of a Trial: its name, labels, owners, pre-training key and status (its
 * config comes from the Sweep's expansion; no managedFields).
 */
function cachedTrial(trial: TrialObject): CachedTrial {
  return {
    metadata: cachedMetadata(trial.metadata),
    spec: { pretrainKey: trial.spec.pretrainKey },
    status: trial.status,
  };
}

/** What the cache keeps of a Job: its name, labels, owners and conditions (no spec). */
function cachedJob(job: JobObject): JobObject {
  const conditions = job.status?.conditions;
  return {
    metadata: { ...cachedMetadata(job.metadata), labels: job.metadata.labels ?? {} },
    spec: {},
    ...(conditions && { status: { conditions } }),
  };
}

/** What the cache keeps of a Pod: its Job (label `job-name`) and how it ended (jobEnd). */
function cachedPod(pod: PodObject): PodObject {
  const { name, namespace, resourceVersion, labels } = pod.metadata;
  const job = labels?.['job-name'];
  const status = pod.status;
  return {
    metadata: {
      name,
      namespace,
      resourceVersion,
      labels: job === undefined ? {} : { 'job-name': job },
    },
    ...(status && {
      status: {
        phase: status.phase,
        reason: status.reason,
        message: status.message,
        containerStatuses: status.containerStatuses?.map(({ name, state }) => ({
          name,
          ...(state?.terminated && {
            state: {
              terminated: {
                exitCode: state.terminated.exitCode,
                reason: state.terminated.reason,
                message: state.terminated.message,
              },
            },
          }),
        })),
      },
    }),
  };
}

function cachedMetadata(metadata: KubeObject['metadata']): KubeObject['metadata'] {
  const { name, namespace, resourceVersion, deletionTimestamp, labels, ownerReferences } = metadata;
  return { name, namespace, resourceVersion, deletionTimestamp, labels, ownerReferences };
}

function isOwnedBy(object: KubeObject, sweep: SweepObject): boolean {
  return (object.metadata.ownerReferences ?? []).some((owner) => owner.uid === sweep.metadata.uid);
}
