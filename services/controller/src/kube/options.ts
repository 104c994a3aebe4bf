/**
 * The KubeController's options: everything but the client and the Job settings optional, with
 * its default in the JSDoc, compiled once into a fully defaulted type that the controller
 * reads without a `??` at each use.
 */
import type { SweepResource } from '@masksweep/api';
import type { BusCredentials } from '@masksweep/bus';
import type { KubeClient } from '@masksweep/kube';
import type { Log } from '@masksweep/log';
import type { EndReason } from '../state.js';
import type { JobSettings } from './resources.js';

/** How the controller logs (masksweep-controller's is pino's, made by @masksweep/log). */
export type ControllerLog = Log;

/** What one reconcile pass of a Sweep did. */
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

export interface KubeControllerOptions {
  client: KubeClient;
  /** Watch one namespace. @default every namespace */
  namespace?: string;
  jobs: JobSettings;
  /**
   * The artifact store, when mounted here: a key whose weights are in it needs no pre-training.
   * @default none (only Trials whose pre-training succeeded count)
   */
  artifactsDir?: string;
  /** First retry delay of a failed stage, doubling per retry up to 5 minutes. @default 10000 */
  retryBackoffMs?: number;
  /** Every Sweep is reconciled at least this often. @default 30000 */
  resyncMs?: number;
  /** Sweeps reconciled at once. @default 4 */
  workers?: number;
  /** API writes in flight at once within one reconcile. @default 16 */
  writeConcurrency?: number;
  /** @default no log */
  log?: ControllerLog;
  /** Called after each reconcile pass with its duration and the number of transitions. */
  onPass?: (pass: ReconcilePass) => void;
  /**
   * Registers the Sweep with the leaderboard, which stores results only of registered Sweeps.
   * Called before the first Job of each generation; a failure holds the Jobs back (retried).
   * @default none (no leaderboard)
   */
  registerSweep?: (sweep: SweepResource, trialCount: number) => Promise<void>;
  /** The NATS the trials publish to: Sweeps with `spec.pruner` are pruned from it. @default none */
  natsUrl?: string;
  /** The controller's own NATS credentials (a reader's). @default anonymous */
  natsCredentials?: BusCredentials;
  /** Called for each stage attempt that ended, with its reason. */
  onEnded?: (reason: EndReason) => void;
  /** Called when a reconcile pass failed (it is retried, or the Sweep is marked Failed). */
  onError?: (error: Error) => void;
  /**
   * When passes of a Sweep that keep failing stop: after this many failures in a row that
   * span at least this long, the Sweep is marked Failed with the last error and not
   * reconciled again until its spec changes (or the controller restarts). Both must hold, so
   * an API server or leaderboard away for minutes fails no Sweep.
   * @default { passes: 10, ms: 600000 } (10 failures over at least 10 minutes)
   */
  failSweepAfter?: { passes?: number; ms?: number };
  /**
   * A pass running longer than this stops holding one of the `workers`: another Sweep's pass
   * starts beside it, so slow Sweeps (10,000 Trials to create take minutes) never starve the
   * others. @default 30000
   */
  slowPassMs?: number;
}

/** The options with every default filled in. */
export interface CompiledControllerOptions
  extends Required<
    Omit<
      KubeControllerOptions,
      'namespace' | 'artifactsDir' | 'natsUrl' | 'natsCredentials' | 'failSweepAfter'
    >
  > {
  failSweepAfter: { passes: number; ms: number };
  namespace: string | undefined;
  artifactsDir: string | undefined;
  natsUrl: string | undefined;
  natsCredentials: BusCredentials | undefined;
}

const nothing = () => {};

export function compileControllerOptions(
  options: KubeControllerOptions,
): CompiledControllerOptions {
  return {
    client: options.client,
    namespace: options.namespace,
    jobs: options.jobs,
    artifactsDir: options.artifactsDir,
    retryBackoffMs: options.retryBackoffMs ?? 10_000,
    resyncMs: options.resyncMs ?? 30_000,
    workers: options.workers ?? 4,
    writeConcurrency: options.writeConcurrency ?? 16,
    log: options.log ?? nothing,
    onPass: options.onPass ?? nothing,
    registerSweep: options.registerSweep ?? (async () => {}),
    natsUrl: options.natsUrl,
    natsCredentials: options.natsCredentials,
    onEnded: options.onEnded ?? nothing,
    onError: options.onError ?? nothing,
    failSweepAfter: {
      passes: options.failSweepAfter?.passes ?? 10,
      ms: options.failSweepAfter?.ms ?? 600_000,
    },
    slowPassMs: options.slowPassMs ?? 30_000,
  };
}
