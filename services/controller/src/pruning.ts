/**
 * Pruning from the metric stream: each trial's validation objective (`val_<metric>` at the
 * fine-tuning step of each epoch) goes into a Study; the Sweep's pruner (Optuna's rules, in
 * @masksweep/tuner) says which running trials to stop. They end as Pruned, not Failed.
 */
import { randomBytes } from 'node:crypto';
import { type SweepResource, type SweepSpecType, validationMetricName } from '@masksweep/api';
import {
  type BusCredentials,
  connectBus,
  consumeEvents,
  EVENTS_STREAM,
  ensureStream,
  sweepEventsSubject,
} from '@masksweep/bus';
import { MetricKind } from '@masksweep/proto';
import { AshaPruner, MedianPruner, type Pruner, Study } from '@masksweep/tuner';
import type { NatsConnection } from 'nats';
import { type PrunedAt, type SweepState, TERMINAL_TRIAL_PHASES } from './state.js';

export function createPruner(spec: NonNullable<SweepSpecType['pruner']>): Pruner {
  return spec.type === 'median'
    ? new MedianPruner({ startupTrials: spec.startupTrials, warmupSteps: spec.warmupSteps })
    : new AshaPruner({ minResource: spec.minResource, reductionFactor: spec.reductionFactor });
}

export class PruningMonitor {
  readonly #study: Study;
  readonly #metric: string;

  constructor(
    private readonly pruner: Pruner,
    objective: SweepSpecType['objective'],
  ) {
    this.#study = new Study(objective.direction);
    this.#metric = validationMetricName(objective.metric);
  }

  /** Marks the trials that ended, so the rules compare against completed ones. */
  sync(state: SweepState): void {
    for (const t of Object.values(state.trials)) {
      const study = this.#study.trial(t.trial.name);
      if (study.state !== 'running') continue;
      if (t.phase === 'Succeeded') this.#study.finish(t.trial.name, 'complete');
      else if (t.phase === 'Pruned') this.#study.finish(t.trial.name, 'pruned');
      else if (t.phase === 'Failed' || t.phase === 'Diverged')
        this.#study.finish(t.trial.name, 'failed');
    }
  }

  /**
   * One validation report of a trial; true when the trial should stop now. Reports of a
   * trial that has ended (replayed, or late) only feed the study. A report can come before
   * the state shows the trial fine-tuning (its pod started before the state was saved), so
   * only an ended trial is out.
   */
  report(state: SweepState, trial: string, step: number, values: Record<string, number>): boolean {
    const value = values[this.#metric];
    if (value === undefined) return false;
    this.sync(state);
    const reported = this.#study.report(trial, step, value);
    const phase = state.trials[trial]?.phase;
    if (!phase || TERMINAL_TRIAL_PHASES.has(phase) || reported.state !== 'running') return false;
    return this.pruner.shouldPrune(this.#study, reported);
  }
}

/** How long the server keeps a pruner's consumer without a reader (its process died). */
const PRUNER_INACTIVE_MS = 60_000;

export interface PruningWatch {
  stop(): Promise<void>;
}

/**
 * The pruners of one process: one NATS connection (made on the first Sweep with a pruner,
 * closed by `close`) shared by every Sweep's watch.
 */
export class PruningStreams {
  readonly #natsUrl: string | undefined;
  readonly #credentials: BusCredentials | undefined;
  #connection?: Promise<NatsConnection>;

  /** `credentials`: a reader's (see @masksweep/bus nats-auth); anonymous without. */
  constructor(natsUrl: string | undefined, credentials?: BusCredentials) {
    this.#natsUrl = natsUrl;
    this.#credentials = credentials;
  }

  /**
   * Replays the sweep's metric events from the start (a new consumer each time, so a
   * restarted controller rebuilds the same study) and calls `prune` for each trial the pruner
   * stops, with the step and objective it stopped at. `state` gives the sweep's latest state (trial phases). The consumer is deleted by
   * `stop`, or by the server a minute after its process died. Undefined without a pruner or NATS.
   */
  async watch(
    sweep: SweepResource,
    state: () => SweepState | undefined,
    prune: (trial: string, at: PrunedAt) => void,
  ): Promise<PruningWatch | undefined> {
    const { spec, metadata } = sweep;
    if (!spec.pruner || !this.#natsUrl) return undefined;
    const monitor = new PruningMonitor(createPruner(spec.pruner), spec.objective);
    const metric = validationMetricName(spec.objective.metric);
    const connection = await this.#connect();
    const durable = `controller-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const consumer = await consumeEvents({
      connection,
      durable,
      inactiveThresholdMs: PRUNER_INACTIVE_MS,
      filterSubject: sweepEventsSubject(metadata.namespace ?? 'default', metadata.name, 'metric'),
      handler: async (batch) => {
        const current = state();
        if (!current) return;
        for (const { kind, event } of batch) {
          if (kind !== 'metric' || event.kind !== MetricKind.METRIC_KIND_VALIDATION) continue;
          if (monitor.report(current, event.trial, event.step, event.values))
            prune(event.trial, { step: event.step, value: event.values[metric] as number });
        }
      },
      onPoison: () => {},
    });
    return {
      async stop() {
        await consumer.stop();
        const manager = await connection.jetstreamManager();
        await manager.consumers.delete(EVENTS_STREAM, durable).catch(() => undefined);
      },
    };
  }

  /** Drains the shared connection (after the watches stopped). */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    await (await connection?.catch(() => undefined))?.drain();
  }

  #connect(): Promise<NatsConnection> {
    if (this.#connection) return this.#connection;
    const pending = (async () => {
      const connection = await connectBus({
        servers: this.#natsUrl,
        name: 'controller',
        credentials: this.#credentials,
      });
      try {
        await ensureStream(connection);
        return connection;
      } catch (error) {
        await connection.close();
        throw error;
      }
    })();
    // A failed connect is tried again by the next watch.
    pending.catch(() => {
      if (this.#connection === pending) this.#connection = undefined;
    });
    this.#connection = pending;
    return pending;
  }
}
