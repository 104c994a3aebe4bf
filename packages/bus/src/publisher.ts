import { LifecycleEvent, type MessageCodec, type MessageInit, MetricEvent } from '@masksweep/proto';
import {
  createInbox,
  Events,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NatsError,
  type Subscription,
} from 'nats';
import {
  checkInteger,
  EventRejectedError,
  PublisherBufferFullError,
  PublisherClosedError,
  PublisherFlushTimeoutError,
} from './errors.js';
import { lifecycleEventId, metricEventId } from './event-ids.js';
import { type EventKind, subjectFor } from './subjects.js';

export interface EventPublisherOptions {
  /** An open connection (see connectBus); the caller closes it after the publisher. */
  connection: NatsConnection;
  /** Events accepted and not yet acknowledged by JetStream, at most. @default 10000 */
  capacity?: number;
  /** Publishes sent and not yet acknowledged, at most. @default 256 */
  window?: number;
  /** How long an acknowledgement may take before the event is sent again. @default 5000 */
  ackTimeoutMs?: number;
  /** The first pause before sending again after a failure; it doubles up to retryMaxMs. @default 100 */
  retryMinMs?: number;
  /** @default 5000 */
  retryMaxMs?: number;
}

/** The JetStream header that makes the server drop a re-sent message within the duplicate window. */
export const MESSAGE_ID_HEADER = 'Nats-Msg-Id';

interface PendingEvent {
  readonly subject: string;
  readonly messageId: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs;
  /** Acceptance order: retried events go back to the front in this order. */
  readonly ordinal: number;
  /** The reply token of the current send; 0 while not sent. */
  token: number;
  sentAt: number;
  resolve(): void;
  reject(error: Error): void;
}

/** JetStream's answer to a publish. */
interface PublishAck {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; err_code?: number; description: string };
}

const decoder = new TextDecoder();

function parseAck(data: Uint8Array): PublishAck {
  const text = decoder.decode(data);
  try {
    return JSON.parse(text) as PublishAck;
  } catch {
    // Not JetStream: something else answered on the subject.
    return {
      error: { code: 0, description: `unreadable acknowledgement ${JSON.stringify(text)}` },
    };
  }
}

/**
 * Publishes metric and lifecycle events to JetStream, acknowledged and de-duplicated.
 *
 * Each publish resolves when JetStream has stored the event (or already had it: the
 * message id, see event-ids.ts, makes a re-sent event a no-op within the stream's duplicate
 * window). Up to `window` publishes are in flight at once. While NATS is away
 * (disconnected, restarting, not answering) events wait in a buffer of `capacity` and are
 * sent again, oldest first, with backoff; a publish into a full buffer is refused with
 * PublisherBufferFullError. Stream order follows publish order except around a retry.
 */
export class EventPublisher {
  readonly capacity: number;
  readonly #connection: NatsConnection;
  readonly #window: number;
  readonly #ackTimeoutMs: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #inbox = createInbox();
  readonly #acks: Subscription;
  readonly #timeoutSweep: NodeJS.Timeout;

  // Events not sent yet (or to be sent again), oldest first: #waiting[#waitingHead...].
  #waiting: PendingEvent[] = [];
  #waitingHead = 0;
  /** Sent events by reply token; insertion order is send order. */
  readonly #inFlight = new Map<number, PendingEvent>();
  #nextToken = 1;
  #nextOrdinal = 0;

  #connected = true;
  #retryDelayMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Since when NATS has been away; undefined while it acknowledges. */
  #awaySince: number | undefined;
  #lastProblem: string | undefined;
  #flushWaiters: (() => void)[] = [];
  #closed = false;
  #sendScheduled = false;

  constructor(options: EventPublisherOptions) {
    this.#connection = options.connection;
    this.capacity = checkInteger('capacity', options.capacity ?? 10_000, 1);
    this.#window = checkInteger('window', options.window ?? 256, 1);
    this.#ackTimeoutMs = checkInteger('ackTimeoutMs', options.ackTimeoutMs ?? 5000, 1);
    this.#retryMinMs = checkInteger('retryMinMs', options.retryMinMs ?? 100, 1);
    this.#retryMaxMs = checkInteger('retryMaxMs', options.retryMaxMs ?? 5000, this.#retryMinMs);
    this.#retryDelayMs = this.#retryMinMs;
    this.#acks = this.#connection.subscribe(`${this.#inbox}.*`, {
      callback: (error, message) => this.#onAnswer(error, message),
    });
    this.#timeoutSweep = setInterval(
      () => this.#sendTimedOutAgain(),
      Math.max(50, this.#ackTimeoutMs / 4),
    );
    this.#timeoutSweep.unref();
    void this.#followConnection();
  }

  publishMetric(event: MessageInit<MetricEvent>): Promise<void> {
    return this.#publish('metric', MetricEvent, event, metricEventId);
  }

  publishLifecycle(event: MessageInit<LifecycleEvent>): Promise<void> {
    return this.#publish('lifecycle', LifecycleEvent, event, lifecycleEventId);
  }

  /** Events accepted and not yet acknowledged. */
  get pending(): number {
    return this.#waiting.length - this.#waitingHead + this.#inFlight.size;
  }

  /**
   * Resolves when no event is pending (each publish's own promise tells whether it was
   * stored or refused); with `timeoutMs`, rejects with PublisherFlushTimeoutError after it.
   */
  flush(timeoutMs?: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#flushWaiters.push(done);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#flushWaiters = this.#flushWaiters.filter((waiter) => waiter !== done);
          reject(new PublisherFlushTimeoutError(this.pending, timeoutMs, this.#lastProblem));
        }, timeoutMs);
      }
    });
  }

  /**
   * Refuses new events, waits up to `timeoutMs` for the pending ones, then stops listening
   * for acknowledgements. Events still pending then are rejected, and so is close.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timedOut: Error | undefined;
    try {
      await this.flush(timeoutMs);
    } catch (error) {
      timedOut = error as Error;
    }
    clearInterval(this.#timeoutSweep);
    clearTimeout(this.#retryTimer);
    if (timedOut) this.#failAll(timedOut);
    if (!this.#connection.isClosed()) await this.#acks.drain();
    if (timedOut) throw timedOut;
  }

  #publish<T>(
    kind: EventKind,
    codec: MessageCodec<T>,
    event: MessageInit<T> & { namespace?: string; sweep?: string; trial?: string },
    idOf: (event: MessageInit<T>) => string,
  ): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new PublisherClosedError('event publisher: publish after close()'));
    }
    if (this.pending >= this.capacity) {
      const awayMs = this.#awaySince === undefined ? 0 : Date.now() - this.#awaySince;
      return Promise.reject(new PublisherBufferFullError(this.capacity, awayMs, this.#lastProblem));
    }
    let subject: string;
    let messageId: string;
    let payload: Uint8Array;
    try {
      subject = subjectFor({
        namespace: event.namespace ?? '',
        sweep: event.sweep ?? '',
        trial: event.trial ?? '',
        kind,
      });
      messageId = idOf(event);
      payload = codec.encode(event);
    } catch (error) {
      return Promise.reject(error);
    }
    const messageHeaders = headers();
    messageHeaders.set(MESSAGE_ID_HEADER, messageId);
    return new Promise((resolve, reject) => {
      this.#waiting.push({
        subject,
        messageId,
        payload,
        headers: messageHeaders,
        ordinal: this.#nextOrdinal++,
        token: 0,
        sentAt: 0,
        resolve,
        reject,
      });
      this.#scheduleSend();
    });
  }

  /**
   * Sends on the next turn of the event loop: events published, and acknowledgements
   * read, in one turn make one socket write rather than one write each.
   */
  #scheduleSend(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    setImmediate(() => {
      this.#sendScheduled = false;
      this.#sendWaiting();
    });
  }

  /** Sends waiting events while the window has room, NATS is there and no retry pause runs. */
  #sendWaiting(): void {
    if (!this.#connected || this.#retryTimer !== undefined) return;
    while (this.#inFlight.size < this.#window && this.#waitingHead < this.#waiting.length) {
      const event = this.#waiting[this.#waitingHead] as PendingEvent;
      this.#waitingHead++;
      const token = this.#nextToken++;
      event.token = token;
      event.sentAt = Date.now();
      this.#inFlight.set(token, event);
      try {
        this.#connection.publish(event.subject, event.payload, {
          reply: `${this.#inbox}.${token}`,
          headers: event.headers,
        });
      } catch (error) {
        // The connection is closing or closed: the event waits for a retry or #failAll.
        this.#sendAgainLater([event], (error as Error).message);
        return;
      }
    }
    // Drop the sent prefix now and then, so the array does not grow without end.
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  #onAnswer(error: NatsError | null, message: Msg): void {
    if (error) {
      this.#lastProblem = `acknowledgement subscription: ${error.message}`;
      return;
    }
    const token = Number(message.subject.slice(this.#inbox.length + 1));
    const event = this.#inFlight.get(token);
    // A late answer to a send that has been retried since: the retry's answer counts.
    if (event === undefined) return;
    if (message.headers?.hasError) {
      // 503 no responders: no stream listens (JetStream not ready yet after a restart).
      this.#sendAgainLater(
        [event],
        `no JetStream stream answered on ${event.subject} (${message.headers.code} ${message.headers.description})`,
      );
      return;
    }
    this.#inFlight.delete(token);
    const ack = parseAck(message.data);
    if (ack.error) {
      if (ack.error.code === 503) {
        this.#sendAgainLater([event], `JetStream: ${ack.error.description}`);
        return;
      }
      event.reject(
        new EventRejectedError(
          event.subject,
          event.messageId,
          `${ack.error.code} ${ack.error.description}`,
        ),
      );
    } else {
      event.resolve();
      this.#awaySince = undefined;
      this.#retryDelayMs = this.#retryMinMs;
    }
    this.#scheduleSend();
    this.#resolveFlushWaiters();
  }

  #sendTimedOutAgain(): void {
    const expired: PendingEvent[] = [];
    const deadline = Date.now() - this.#ackTimeoutMs;
    for (const event of this.#inFlight.values()) {
      // Send order is insertion order: the first event still in time ends the scan.
      if (event.sentAt > deadline) break;
      expired.push(event);
    }
    if (expired.length > 0) {
      this.#sendAgainLater(expired, `no acknowledgement within ${this.#ackTimeoutMs} ms`);
    }
  }

  /** Puts events back at the front of the queue and pauses sending for the retry delay. */
  #sendAgainLater(events: PendingEvent[], problem: string): void {
    this.#lastProblem = problem;
    this.#awaySince ??= Date.now();
    this.#requeue(events);
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#sendWaiting();
    }, this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, this.#retryMaxMs);
  }

  #requeue(events: PendingEvent[]): void {
    for (const event of events) {
      this.#inFlight.delete(event.token);
      event.token = 0;
    }
    const oldestFirst = events.sort((a, b) => a.ordinal - b.ordinal);
    this.#waiting = [...oldestFirst, ...this.#waiting.slice(this.#waitingHead)];
    this.#waitingHead = 0;
  }

  /** Pauses while disconnected; on reconnect, sends again what was in flight (its answers are lost). */
  async #followConnection(): Promise<void> {
    void this.#connection.closed().then(() => {
      if (this.pending > 0) {
        this.#failAll(
          new PublisherClosedError(
            `NATS connection closed with ${this.pending} events not acknowledged`,
          ),
        );
      }
    });
    for await (const status of this.#connection.status()) {
      if (this.#closed) break;
      if (status.type === Events.Disconnect) {
        this.#connected = false;
        this.#awaySince ??= Date.now();
        this.#lastProblem = `disconnected from ${String(status.data)}`;
      } else if (status.type === Events.Reconnect) {
        this.#connected = true;
        this.#requeue([...this.#inFlight.values()]);
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        this.#retryDelayMs = this.#retryMinMs;
        this.#sendWaiting();
      }
    }
  }

  #failAll(error: Error): void {
    const events = [...this.#inFlight.values(), ...this.#waiting.slice(this.#waitingHead)];
    this.#inFlight.clear();
    this.#waiting = [];
    this.#waitingHead = 0;
    for (const event of events) event.reject(error);
    this.#resolveFlushWaiters();
  }

  #resolveFlushWaiters(): void {
    if (this.pending > 0 || this.#flushWaiters.length === 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
