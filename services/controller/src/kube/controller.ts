/**
 * The Sweep controller on a cluster: informers on Sweeps, Trials, Jobs and Pods; a work queue
 * that reconciles each Sweep in one worker at a time (changes that arrive meanwhile coalesce
 * into one more pass; a failed pass is retried with a per-Sweep back-off). A pass gets the
 * Sweep (gone: done), validates it (Invalid: status only, nothing created), registers it with
 * the leaderboard, then runs observe -> decide -> act -> status (sweep-pass.ts) and requeues
 * itself for the next retry time. One Sweep cannot stop the others: whatever its validation
 * or expansion throws makes it Invalid; passes that keep failing make it Failed (see
 * `failSweepAfter`); a slow pass gives up its worker (`slowPassMs`).
 */
import {
  findProblems,
  hasPretraining,
  type SweepObject,
  type SweepResource,
  searchNotRunProblem,
  type Trial,
} from '@masksweep/api';
import {
  ConflictError,
  Informer,
  type InformerEventType,
  InvalidError,
  type KubeObject,
  objectKey,
  WorkQueue,
} from '@masksweep/kube';
import { PruningStreams, type PruningWatch } from '../pruning.js';
import { type StageAttempt, sweepTrials, workloadName } from '../reconcile.js';
import type { PrunedAt, SweepState } from '../state.js';
import { cachedJob, cachedPod, cachedTrial } from './cache.js';
import {
  type CompiledControllerOptions,
  compileControllerOptions,
  type KubeControllerOptions,
} from './options.js';
import {
  type CachedTrial,
  type JobObject,
  jobObject,
  LABELS,
  MANAGER,
  type PodObject,
  paths,
  trialObject,
} from './resources.js';
import { failedStatus, invalidStatus } from './status.js';
import { sweepPass, writeSweepStatus } from './sweep-pass.js';

export type { ControllerLog, KubeControllerOptions, ReconcilePass } from './options.js';

/** A Sweep's generation validated and expanded, with what was done once for it. */
interface Expansion {
  generation: number | undefined;
  uid?: string;
  resource?: SweepResource;
  trials: Trial[];
  problems: string[];
  registered?: boolean;
  /** The API server accepted a dry-run Trial of each method, and a dry-run Job of it. */
  objectsAccepted?: boolean;
  /** Its passes kept failing: the Sweep is Failed with this message, and left alone. */
  failed?: string;
}

/** A Sweep whose passes fail: since when, and how many in a row. */
interface FailingPasses {
  since: number;
  passes: number;
}

/** A Sweep's pruner: its watch of one generation, and the trials it stopped (with the step). */
interface Pruning {
  generation: string;
  watch: Promise<PruningWatch | undefined>;
  stopped: Map<string, PrunedAt>;
}

export class KubeController {
  readonly #options: CompiledControllerOptions;
  readonly #sweeps: Informer<SweepObject>;
  readonly #trials: Informer<CachedTrial>;
  readonly #jobs: Informer<JobObject>;
  readonly #pods: Informer<PodObject>;
  readonly #queue: WorkQueue;
  readonly #expansions = new Map<string, Expansion>();
  /** Per Sweep key: the latest reconciled state, for the pruner. */
  readonly #states = new Map<string, SweepState>();
  readonly #pruning = new Map<string, Pruning>();
  readonly #failing = new Map<string, FailingPasses>();
  /** One NATS connection for the pruners of every Sweep. */
  readonly #pruningStreams: PruningStreams;
  #resync?: NodeJS.Timeout;

  constructor(options: KubeControllerOptions) {
    this.#options = compileControllerOptions(options);
    const { client, namespace, log } = this.#options;
    this.#pruningStreams = new PruningStreams(this.#options.natsUrl, this.#options.natsCredentials);
    this.#queue = new WorkQueue({
      workers: this.#options.workers,
      slowAfterMs: this.#options.slowPassMs,
      handle: async (key) => {
        let retryAt: number | undefined;
        try {
          retryAt = await this.reconcileSweep(key);
        } catch (caught) {
          const error = caught instanceof Error ? caught : new Error(String(caught));
          if (!this.#givesUp(key)) throw error;
          await this.#fail(key, error);
          return undefined;
        }
        this.#failing.delete(key);
        return retryAt === undefined ? undefined : { requeueAfterMs: retryAt - Date.now() };
      },
      onError: (key, error, retryInMs) => {
        this.#options.onError(error);
        log('error', 'reconcile failed', { sweep: key, error: error.message, retryInMs });
      },
    });
    const managed = `${LABELS.managedBy}=${MANAGER}`;
    const onError = (error: Error) => log('warn', 'watch failed', { error: error.message });
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
    this.#trials = new Informer<CachedTrial>({
      client,
      path: paths.trials(namespace),
      labelSelector: managed,
      onError,
      transform: (trial) => cachedTrial(trial as CachedTrial),
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
    this.#resync = setInterval(() => {
      for (const sweep of this.#sweeps.list()) this.enqueue(objectKey(sweep));
    }, this.#options.resyncMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#resync);
    await this.#queue.shutDown();
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
    return this.#queue.idle();
  }

  enqueue(key: string): void {
    this.#queue.add(key);
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
      this.#failing.delete(key);
      await this.#stopPruning(key);
      return undefined;
    }
    const expansion = this.#expand(key, sweep);
    if (expansion.failed !== undefined) return undefined;
    const { resource } = expansion;
    if (!(await this.#accepted(sweep, expansion)) || !resource) return undefined;
    if (!expansion.registered) {
      await this.#options.registerSweep(resource, expansion.trials.length);
      expansion.registered = true;
    }
    const outcome = await sweepPass(
      {
        options: this.#options,
        trials: this.#trials,
        jobs: this.#jobs,
        pods: this.#pods,
        pruned: this.#pruning.get(key)?.stopped,
        reconciled: (state) => this.#states.set(key, state),
      },
      { sweep, resource, trials: expansion.trials },
    );
    const { phase } = outcome.state;
    if (phase === 'Succeeded' || phase === 'Failed') await this.#stopPruning(key);
    else this.#pruningOf(key, resource, sweep);
    this.#options.onPass({
      sweep: key,
      durationMs: performance.now() - started,
      ...outcome.pass,
    });
    return outcome.retryAt;
  }

  /**
   * Whether the Sweep can run: valid, and its Trials accepted by the API server. When not,
   * its status says why (Invalid) and nothing is created.
   */
  async #accepted(sweep: SweepObject, expansion: Expansion): Promise<boolean> {
    let problems = expansion.problems;
    let message = 'sweep is invalid';
    if (problems.length === 0 && !expansion.objectsAccepted) {
      // Before any Job: a Trial the API server refuses (CRDs older than the controller, say)
      // would leave its Jobs running with nothing to report to, and a Job it refuses (a
      // nodeSelector label the Pod cannot have, say) would fail every pass.
      problems = await this.#refusedObjects(sweep, expansion.trials);
      message = 'the API server refuses the trials or jobs of the sweep';
      expansion.objectsAccepted = problems.length === 0;
    }
    if (problems.length === 0) return true;
    const now = new Date().toISOString();
    await writeSweepStatus(this.#options.client, sweep, invalidStatus(sweep, problems, now));
    const { namespace, name } = sweep.metadata;
    this.#options.log('warn', message, { namespace, sweep: name, problems });
    return false;
  }

  /**
   * The Sweep validated and expanded, once per generation. Whatever either throws is a
   * problem of the Sweep (its content got past the checks), never of the controller.
   */
  #expand(key: string, sweep: SweepObject): Expansion {
    const cached = this.#expansions.get(key);
    const { generation, uid } = sweep.metadata;
    if (cached && cached.generation === generation && cached.uid === uid) return cached;
    this.#failing.delete(key);
    const invalid = (problems: string[]): Expansion => ({ generation, uid, trials: [], problems });
    let expansion: Expansion;
    try {
      const { sweep: resource, problems } = findProblems(
        {
          apiVersion: sweep.apiVersion,
          kind: sweep.kind,
          metadata: sweep.metadata,
          spec: sweep.spec,
        },
        { checkData: false },
      );
      const notRun = problems.length === 0 ? searchNotRunProblem(resource) : undefined;
      if (notRun) problems.push(notRun);
      expansion =
        problems.length > 0
          ? invalid(problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)))
          : { generation, uid, resource, trials: sweepTrials(resource), problems: [] };
    } catch (error) {
      const { name, message } = error as Error;
      this.#options.log('error', 'validating or expanding a sweep threw', {
        sweep: key,
        error: message,
        stack: (error as Error).stack,
      });
      expansion = invalid([
        `the controller cannot validate or expand this spec: ${name}: ${message}`,
      ]);
    }
    this.#expansions.set(key, expansion);
    return expansion;
  }

  /** Counts a failed pass; whether the Sweep's passes failed long enough to stop them. */
  #givesUp(key: string): boolean {
    const failing = this.#failing.get(key) ?? { since: Date.now(), passes: 0 };
    failing.passes += 1;
    this.#failing.set(key, failing);
    const { passes, ms } = this.#options.failSweepAfter;
    return failing.passes >= passes && Date.now() - failing.since >= ms;
  }

  /** Marks the Sweep Failed with the last error of its passes, and stops reconciling it. */
  async #fail(key: string, error: Error): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const sweep = this.#sweeps.get(namespace, name);
    const expansion = sweep && this.#expand(key, sweep);
    const failing = this.#failing.get(key);
    if (!sweep || !expansion || !failing) return;
    const minutes = ((Date.now() - failing.since) / 60_000).toFixed(1);
    const message = `${failing.passes} reconcile passes failed in a row over ${minutes} min; the last: ${error.message}`;
    const now = new Date().toISOString();
    await writeSweepStatus(this.#options.client, sweep, failedStatus(sweep, message, now));
    expansion.failed = message;
    this.#failing.delete(key);
    await this.#stopPruning(key);
    this.#options.onError(error);
    this.#options.log('error', 'sweep failed: its passes keep failing', {
      namespace,
      sweep: name,
      error: error.message,
      passes: failing.passes,
    });
  }

  /**
   * The pruner of the Sweep's generation, started on first use (it replays the metric stream
   * from the start, so a restarted controller stops the same trials).
   */
  #pruningOf(key: string, resource: SweepResource, sweep: SweepObject): Pruning | undefined {
    if (!resource.spec.pruner || !this.#options.natsUrl) return undefined;
    const generation = `${sweep.metadata.uid}/${sweep.metadata.generation}`;
    const current = this.#pruning.get(key);
    if (current?.generation === generation) return current;
    if (current)
      this.#stopPruning(key).catch((error: Error) =>
        this.#options.log('warn', 'stopping a pruning stream failed', {
          sweep: key,
          error: error.message,
        }),
      );
    const stopped = new Map<string, PrunedAt>();
    const watch = this.#pruningStreams
      .watch(
        resource,
        () => this.#states.get(key),
        (trial, at) => {
          if (stopped.has(trial)) return;
          stopped.set(trial, at);
          this.#options.log('info', 'pruned trial', { sweep: key, trial, step: at.step });
          this.enqueue(key);
        },
      )
      .catch((error: Error) => {
        this.#options.log('warn', 'pruning stream failed', { sweep: key, error: error.message });
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

  /**
   * Asks the API server, without creating anything (`dryRun=All`), whether it accepts the
   * first Trial of each method and the Job of its first stage; returns its refusals, naming
   * the object and the field.
   */
  async #refusedObjects(sweep: SweepObject, trials: readonly Trial[]): Promise<string[]> {
    const firstOfMethod = new Map<string, Trial>();
    for (const trial of trials)
      if (!firstOfMethod.has(trial.config.method)) firstOfMethod.set(trial.config.method, trial);
    const namespace = sweep.metadata.namespace as string;
    const refused: string[] = [];
    const dryRun = async (collection: string, object: KubeObject, what: string) => {
      try {
        await this.#options.client.call('POST', `${collection}?dryRun=All`, object);
      } catch (error) {
        if (error instanceof ConflictError) return;
        if (!(error instanceof InvalidError)) throw error;
        refused.push(`the API server refuses ${what}: ${error.detail}`);
      }
    };
    for (const trial of firstOfMethod.values()) {
      const method = trial.config.method;
      await dryRun(
        paths.trials(namespace),
        trialObject(sweep, trial),
        `Trial ${trial.name} (${method})`,
      );
      const attempt: StageAttempt = hasPretraining(trial)
        ? { stage: 'pretrain', trial, attempt: 1 }
        : { stage: 'finetune', trial, attempt: 1 };
      const job = jobObject(sweep, { ...attempt, name: workloadName(attempt) }, this.#options.jobs);
      const stage = attempt.stage;
      await dryRun(paths.jobs(namespace), job, `the ${stage} Job of ${trial.name} (${method})`);
    }
    return refused;
  }
}
