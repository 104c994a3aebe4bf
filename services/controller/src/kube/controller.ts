/**
 * The Sweep controller on a cluster: informers on Sweeps, Trials, Jobs and Pods; a work queue
 * that reconciles each Sweep in one worker at a time (changes that arrive meanwhile coalesce
 * into one more pass; a failed pass is retried with a per-Sweep back-off). A pass gets the
 * Sweep (gone: done), validates it (Invalid: status only, nothing created), registers it with
 * the leaderboard, then runs observe -> decide -> act -> status (sweep-pass.ts) and requeues
 * itself for the next retry time.
 */
import { findProblems, type SweepObject, type SweepResource, type Trial } from '@masksweep/api';
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
import { sweepTrials } from '../reconcile.js';
import type { SweepState } from '../state.js';
import { cachedJob, cachedPod, cachedTrial } from './cache.js';
import {
  type CompiledControllerOptions,
  compileControllerOptions,
  type KubeControllerOptions,
} from './options.js';
import {
  type CachedTrial,
  type JobObject,
  LABELS,
  MANAGER,
  type PodObject,
  paths,
  trialObject,
} from './resources.js';
import { invalidStatus } from './status.js';
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
  /** The API server accepted a dry-run Trial of each method. */
  trialsAccepted?: boolean;
}

/** A Sweep's pruner: its watch of one generation, and the trials it stopped (with the step). */
interface Pruning {
  generation: string;
  watch: Promise<PruningWatch | undefined>;
  stopped: Map<string, number>;
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
  /** One NATS connection for the pruners of every Sweep. */
  readonly #pruningStreams: PruningStreams;
  #resync?: NodeJS.Timeout;

  constructor(options: KubeControllerOptions) {
    this.#options = compileControllerOptions(options);
    const { client, namespace, log } = this.#options;
    this.#pruningStreams = new PruningStreams(this.#options.natsUrl, this.#options.natsCredentials);
    this.#queue = new WorkQueue({
      workers: this.#options.workers,
      handle: async (key) => {
        const retryAt = await this.reconcileSweep(key);
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
      await this.#stopPruning(key);
      return undefined;
    }
    const expansion = this.#expand(key, sweep);
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
    if (problems.length === 0 && !expansion.trialsAccepted) {
      // Before any Job: a Trial the API server refuses (CRDs older than the controller, say)
      // would leave its Jobs running with nothing to report to.
      problems = await this.#refusedTrials(sweep, expansion.trials);
      message = 'the API server refuses the trials of the sweep';
      expansion.trialsAccepted = problems.length === 0;
    }
    if (problems.length === 0) return true;
    const now = new Date().toISOString();
    await writeSweepStatus(this.#options.client, sweep, invalidStatus(sweep, problems, now));
    const { namespace, name } = sweep.metadata;
    this.#options.log('warn', message, { namespace, sweep: name, problems });
    return false;
  }

  /** The Sweep validated and expanded, once per generation. */
  #expand(key: string, sweep: SweepObject): Expansion {
    const cached = this.#expansions.get(key);
    const { generation, uid } = sweep.metadata;
    if (cached && cached.generation === generation && cached.uid === uid) return cached;
    const { sweep: resource, problems } = findProblems(
      {
        apiVersion: sweep.apiVersion,
        kind: sweep.kind,
        metadata: sweep.metadata,
        spec: sweep.spec,
      },
      { checkData: false },
    );
    const expansion: Expansion =
      problems.length > 0
        ? {
            generation,
            uid,
            trials: [],
            problems: problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
          }
        : { generation, uid, resource, trials: sweepTrials(resource), problems: [] };
    this.#expansions.set(key, expansion);
    return expansion;
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
    if (current) void this.#stopPruning(key);
    const stopped = new Map<string, number>();
    const watch = this.#pruningStreams
      .watch(
        resource,
        () => this.#states.get(key),
        (trial, step) => {
          if (stopped.has(trial)) return;
          stopped.set(trial, step);
          this.#options.log('info', 'pruned trial', { sweep: key, trial, step });
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
}
