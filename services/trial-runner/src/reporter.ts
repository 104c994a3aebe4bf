/**
 * The trial's voice: lifecycle and metric events to NATS JetStream while it trains (when a
 * NATS address is given), and its result to the leaderboard over gRPC at the end, retried
 * until acknowledged (when a leaderboard address is given).
 */
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Trial } from '@masksweep/api';
import { type BusCredentials, connectBus, EventPublisher } from '@masksweep/bus';
import {
  createLeaderboardClient,
  type LeaderboardClient,
  type LifecycleEvent,
  type MessageInit,
  Stage,
} from '@masksweep/proto';
import type { EpochReport, StepEvent, TrialResult } from '@masksweep/train';
import type { NatsConnection } from 'nats';
import {
  resultMessage,
  stepMetricEvent,
  type TrialAttempt,
  validationMetricEvent,
} from './messages.js';

export interface TrialReporterOptions {
  attempt: TrialAttempt;
  /** NATS server(s); no events are published without. */
  natsUrl?: string;
  /** Who the trial is to NATS: its Sweep's trial user. @default anonymous */
  natsCredentials?: BusCredentials;
  /** host:port of the leaderboard's gRPC server; no result is reported without. */
  leaderboard?: string;
  /** The leaderboard's bearer token for writes. */
  token?: string;
  /** PEM file of the CA that signed the leaderboard's certificate: TLS instead of plain text. */
  leaderboardCa?: Buffer;
  /** Publish training figures every this many steps (validations always). @default 10 */
  metricsEvery?: number;
  /** How long ReportResult is retried before the trial gives up. @default 600000 */
  reportTimeoutMs?: number;
  /** How long pending events may take to reach JetStream at the end. @default 300000 */
  flushTimeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * Answers that a retry cannot change: a refused result (INVALID_ARGUMENT) or one that
 * conflicts with what is stored (ALREADY_EXISTS) stays so for ten minutes of retries.
 */
const PERMANENT = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.ALREADY_EXISTS,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.UNIMPLEMENTED,
]);

export class TrialReporter {
  #failure: Error | undefined;

  private constructor(
    private readonly options: TrialReporterOptions,
    private readonly connection: NatsConnection | undefined,
    private readonly publisher: EventPublisher | undefined,
    private readonly client: LeaderboardClient | undefined,
  ) {}

  static async open(options: TrialReporterOptions): Promise<TrialReporter> {
    let connection: NatsConnection | undefined;
    let publisher: EventPublisher | undefined;
    if (options.natsUrl) {
      connection = await connectBus({
        servers: options.natsUrl,
        name: `trial ${options.attempt.trial}`,
        credentials: options.natsCredentials,
      });
      // The stream is the readers' (leaderboard, controller): a trial's credentials may only
      // publish. Until a reader has made it, the publisher holds the events and retries.
      publisher = new EventPublisher({ connection });
    }
    const client = options.leaderboard
      ? createLeaderboardClient(
          options.leaderboard,
          options.leaderboardCa
            ? grpc.credentials.createSsl(options.leaderboardCa)
            : grpc.credentials.createInsecure(),
        )
      : undefined;
    return new TrialReporter(options, connection, publisher, client);
  }

  started(): void {
    this.#lifecycle({ started: { worker: `${hostname()}/${process.pid}` } });
  }

  stageChanged(stage: 'pretrain' | 'finetune'): void {
    this.#lifecycle({
      stageChanged: { stage: stage === 'pretrain' ? Stage.STAGE_PRETRAIN : Stage.STAGE_FINETUNE },
    });
  }

  /** Training figures every `metricsEvery` steps and on the last step of a stage. */
  onStep(event: StepEvent): void {
    this.#throwIfFailed();
    const every = this.options.metricsEvery ?? 10;
    if (event.step % every === 0 || event.step === event.totalSteps - 1)
      this.#send(this.publisher?.publishMetric(stepMetricEvent(this.options.attempt, event)));
  }

  onEpoch(report: EpochReport): void {
    this.#throwIfFailed();
    this.#send(this.publisher?.publishMetric(validationMetricEvent(this.options.attempt, report)));
  }

  failed(reason: string, message: string): void {
    this.#lifecycle({ failed: { reason, message } });
  }

  diverged(details: { stage: string; step: number; lr: number; message: string }): void {
    this.#lifecycle({
      diverged: {
        stage: details.stage === 'pretrain' ? Stage.STAGE_PRETRAIN : Stage.STAGE_FINETUNE,
        step: details.step,
        learningRate: details.lr,
        message: details.message,
      },
    });
  }

  /** Reports the result until the leaderboard acknowledges it, then says the trial finished. */
  async finished(
    trial: Trial,
    result: TrialResult,
    details: { artifactsBase: string; durationSeconds: number; objective: number },
  ): Promise<void> {
    if (this.client) {
      const message = resultMessage(this.options.attempt, trial, result, details);
      await retryUntilFinal(
        `ReportResult to ${this.options.leaderboard}`,
        () => this.client?.reportResult({ result: message }, { metadata: this.#metadata() }),
        { timeoutMs: this.options.reportTimeoutMs ?? 600_000, log: this.options.log },
      );
    }
    this.#lifecycle({ finished: { objective: details.objective } });
  }

  /** Waits for pending events (bounded), then closes the connections. */
  async close(): Promise<void> {
    try {
      await this.publisher?.close(this.options.flushTimeoutMs ?? 300_000);
    } finally {
      await this.connection?.drain();
      this.client?.close();
    }
    this.#throwIfFailed();
  }

  #lifecycle(event: MessageInit<LifecycleEvent>): void {
    this.#send(
      this.publisher?.publishLifecycle({
        ...this.options.attempt,
        wallTimeMs: Date.now(),
        ...event,
      }),
    );
  }

  /** Publishing goes on in the background; the first refusal (a full buffer) stops the trial. */
  #send(published: Promise<void> | undefined): void {
    published?.catch((error: Error) => {
      this.#failure ??= error;
    });
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.options.token) metadata.set('authorization', `Bearer ${this.options.token}`);
    return metadata;
  }
}

/**
 * Calls until the call succeeds, with doubling delays up to 10 s, for at most `timeoutMs`;
 * a permanent answer (a refusal, a conflict, no credentials) ends it at once.
 */
export async function retryUntilFinal(
  what: string,
  call: () => Promise<unknown> | undefined,
  options: { timeoutMs: number; log?: (line: string) => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      await call();
      return;
    } catch (error) {
      const code = (error as grpc.ServiceError).code;
      if (PERMANENT.has(code) || Date.now() + delay > deadline) {
        throw new Error(`${what} failed: ${(error as Error).message}`);
      }
      options.log?.(`${what} failed (${(error as Error).message}); retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
