import { createHash } from 'node:crypto';
import {
  encodeRepeatedMessages,
  LifecycleEvent,
  type MessageCodec,
  type MessageInit,
  MetricEvent,
} from '@masksweep/proto';
import {
  createInbox,
  ErrorCode,
  Events,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NatsError,
  type Subscription,
} from 'nats';
import { inboxPrefixOf } from './credentials.js';
import {
  checkInteger,
  EventRejectedError,
  PublisherBufferFullError,
  PublisherClosedError,
  PublisherFlushTimeoutError,
  PublishNotPermittedError,
} from './errors.js';
import { lifecycleEventId, metricEventId } from './event-ids.js';
import { type EventKind, subjectFor } from './subjects.js';

export interface EventPublisherOptions {
  /** An open connection (see connectBus); the caller closes it after the publisher. */
  connection: NatsConnection;
  /** Events accepted and not yet acknowledged by JetStream, at most. @default 10000 */
  capacity?: number;
  /** Messages sent and not yet acknowledged, at most. @default 256 */
  window?: number;
  /** Metric events in one message at most. @default 256 */
  maxBatchEvents?: number;
  /** How long an acknowledgement may take before the message is sent again. @default 5000 */
  ackTimeoutMs?: number;
  /** The first pause before sending again after a failure; it doubles up to retryMaxMs. @default 100 */
  retryMinMs?: number;
  /** @default 5000 */
  retryMaxMs?: number;
}

/** The JetStream header that makes the server drop a re-sent message within the duplicate window. */
export const MESSAGE_ID_HEADER = 'Nats-Msg-Id';

/** Encoded events in one message at most, well under NATS's default 1 MiB payload limit. */
const MAX_BATCH_BYTES = 256 * 1024;

/** An event accepted and not yet acknowledged; it waits in its subject's queue. */
interface PendingEvent {
  /** Metric events travel in batches, lifecycle events one to a message. */
  readonly kind: EventKind;
  /** Its de-duplication id (event-ids.ts). */
  readonly eventId: string;
  /** The event alone, encoded; a metric event is framed into its batch when its message forms. */
  readonly payload: Uint8Array;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * One NATS message: a lifecycle event, or a MetricEventBatch of one subject's metric
 * events. Once formed it is sent again unchanged, so its id de-duplicates the re-send.
 */
interface PendingMessage {
  readonly subject: string;
  readonly messageId: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs;
  readonly events: readonly PendingEvent[];
  /** Forming order: messages sent again go out in this order. */
  readonly ordinal: number;
  /** The reply token of the current send; 0 while not sent. */
  token: number;
  sentAt: number;
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
 * Each publish resolves when JetStream has stored the event (or already had it). Events
 * wait in one queue per subject; a send takes up to `maxBatchEvents` metric events of one
 * subject into one MetricEventBatch message, so a trial that publishes faster than NATS
 * answers sends a few large messages rather than many small ones, and one that publishes
 * slowly sends each event as it comes. A message's id (one event's id, or for a batch a
 * digest of its events' ids) makes a re-sent message a no-op within the stream's duplicate
 * window. Up to `window` messages are in flight at once. While NATS is away
 * (disconnected, restarting, not answering) events wait in a buffer of `capacity` and are
 * sent again, oldest first, with backoff; a publish into a full buffer is refused with
 * PublisherBufferFullError. Stream order follows publish order per subject (one trial's
 * metric or lifecycle events) except around a retry.
 */
export class EventPublisher {
  readonly capacity: number;
  readonly #connection: NatsConnection;
  readonly #window: number;
  readonly #maxBatchEvents: number;
  readonly #ackTimeoutMs: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #inbox: string;
  readonly #acks: Subscription;
  readonly #timeoutSweep: NodeJS.Timeout;

  /** Events not in a message yet, oldest first, per subject. */
  readonly #unsent = new Map<string, PendingEvent[]>();
  /** The subjects with unsent events, taken in turn. */
  #subjectTurns: string[] = [];
  /** Messages to send again, in forming order. */
  #resend: PendingMessage[] = [];
  /** Sent messages by reply token; insertion order is send order. */
  readonly #inFlight = new Map<number, PendingMessage>();
  #pending = 0;
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
  /** Set when NATS refused this connection the acknowledgements' inbox: nothing can be published. */
  #notPermitted: PublishNotPermittedError | undefined;

  constructor(options: EventPublisherOptions) {
    this.#connection = options.connection;
    this.capacity = checkInteger('capacity', options.capacity ?? 10_000, 1);
    this.#window = checkInteger('window', options.window ?? 256, 1);
    this.#maxBatchEvents = checkInteger('maxBatchEvents', options.maxBatchEvents ?? 256, 1);
    this.#ackTimeoutMs = checkInteger('ackTimeoutMs', options.ackTimeoutMs ?? 5000, 1);
    this.#retryMinMs = checkInteger('retryMinMs', options.retryMinMs ?? 100, 1);
    this.#retryMaxMs = checkInteger('retryMaxMs', options.retryMaxMs ?? 5000, this.#retryMinMs);
    this.#retryDelayMs = this.#retryMinMs;
    this.#inbox = createInbox(inboxPrefixOf(this.#connection));
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
    return this.#pending;
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
    if (this.#notPermitted) return Promise.reject(this.#notPermitted);
    if (this.pending >= this.capacity) {
      const awayMs = this.#awaySince === undefined ? 0 : Date.now() - this.#awaySince;
      return Promise.reject(new PublisherBufferFullError(this.capacity, awayMs, this.#lastProblem));
    }
    let subject: string;
    let eventId: string;
    let payload: Uint8Array;
    try {
      subject = subjectFor({
        namespace: event.namespace ?? '',
        sweep: event.sweep ?? '',
        trial: event.trial ?? '',
        kind,
      });
      eventId = idOf(event);
      payload = codec.encode(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      let queue = this.#unsent.get(subject);
      if (queue === undefined) {
        queue = [];
        this.#unsent.set(subject, queue);
      }
      if (queue.length === 0) this.#subjectTurns.push(subject);
      queue.push({ kind, eventId, payload, resolve, reject });
      this.#pending++;
      this.#scheduleSend();
    });
  }

  /**
   * Sends on the next turn of the event loop: events published, and acknowledgements
   * read, in one turn make one socket write (and fuller batches) rather than one each.
   */
  #scheduleSend(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    setImmediate(() => {
      this.#sendScheduled = false;
      this.#sendWaiting();
    });
  }

  /** Sends while the window has room, NATS is there and no retry pause runs: re-sends first. */
  #sendWaiting(): void {
    if (!this.#connected || this.#retryTimer !== undefined) return;
    while (this.#inFlight.size < this.#window) {
      const message = this.#resend.shift() ?? this.#nextMessage();
      if (message === undefined) return;
      const token = this.#nextToken++;
      message.token = token;
      message.sentAt = Date.now();
      this.#inFlight.set(token, message);
      try {
        this.#connection.publish(message.subject, message.payload, {
          reply: `${this.#inbox}.${token}`,
          headers: message.headers,
        });
      } catch (error) {
        // The connection is closing or closed: the message waits for a retry or #failAll.
        this.#sendAgainLater([message], (error as Error).message);
        return;
      }
    }
  }

  /** The next message of the subject whose turn it is: a lifecycle event, or a batch of metric events. */
  #nextMessage(): PendingMessage | undefined {
    const subject = this.#subjectTurns.shift();
    if (subject === undefined) return undefined;
    const queue = this.#unsent.get(subject) as [PendingEvent, ...PendingEvent[]];
    const batched = queue[0].kind === 'metric';
    let count = 1;
    if (batched) {
      let bytes = queue[0].payload.length;
      while (count < queue.length && count < this.#maxBatchEvents) {
        bytes += (queue[count] as PendingEvent).payload.length;
        if (bytes > MAX_BATCH_BYTES) break;
        count++;
      }
    }
    const events = queue.splice(0, count);
    if (queue.length > 0) this.#subjectTurns.push(subject);
    else this.#unsent.delete(subject);
    const [first] = events as [PendingEvent];
    const messageId = events.length === 1 ? first.eventId : batchMessageId(events);
    const messageHeaders = headers();
    messageHeaders.set(MESSAGE_ID_HEADER, messageId);
    return {
      subject,
      messageId,
      payload: batched
        ? encodeRepeatedMessages(
            METRIC_BATCH_EVENTS_FIELD,
            events.map((event) => event.payload),
          )
        : first.payload,
      headers: messageHeaders,
      events,
      ordinal: this.#nextOrdinal++,
      token: 0,
      sentAt: 0,
    };
  }

  #onAnswer(error: NatsError | null, answer: Msg): void {
    if (error) {
      this.#lastProblem = `acknowledgement subscription: ${error.message}`;
      // No acknowledgement can ever come: every pending event fails, and so will new ones.
      if (error.code === ErrorCode.PermissionsViolation) {
        this.#notPermitted = new PublishNotPermittedError('subscribe', this.#inbox, error.message);
        this.#failAll(this.#notPermitted);
      }
      return;
    }
    const token = Number(answer.subject.slice(this.#inbox.length + 1));
    const message = this.#inFlight.get(token);
    // A late answer to a send that has been retried since: the retry's answer counts.
    if (message === undefined) return;
    if (answer.headers?.hasError) {
      // 503 no responders: no stream listens (JetStream not ready yet after a restart).
      this.#sendAgainLater(
        [message],
        `no JetStream stream answered on ${message.subject} (${answer.headers.code} ${answer.headers.description})`,
      );
      return;
    }
    const ack = parseAck(answer.data);
    if (ack.error?.code === 503) {
      this.#sendAgainLater([message], `JetStream: ${ack.error.description}`);
      return;
    }
    this.#inFlight.delete(token);
    this.#pending -= message.events.length;
    if (ack.error) {
      const refused = new EventRejectedError(
        message.subject,
        message.messageId,
        message.events.length,
        `${ack.error.code} ${ack.error.description}`,
      );
      for (const event of message.events) event.reject(refused);
    } else {
      for (const event of message.events) event.resolve();
      this.#awaySince = undefined;
      this.#retryDelayMs = this.#retryMinMs;
    }
    this.#scheduleSend();
    this.#resolveFlushWaiters();
  }

  #sendTimedOutAgain(): void {
    const expired: PendingMessage[] = [];
    const deadline = Date.now() - this.#ackTimeoutMs;
    for (const message of this.#inFlight.values()) {
      // Send order is insertion order: the first message still in time ends the scan.
      if (message.sentAt > deadline) break;
      expired.push(message);
    }
    if (expired.length > 0) {
      this.#sendAgainLater(expired, `no acknowledgement within ${this.#ackTimeoutMs} ms`);
    }
  }

  /** Puts messages back at the front of the queue and pauses sending for the retry delay. */
  #sendAgainLater(messages: PendingMessage[], problem: string): void {
    this.#lastProblem = problem;
    this.#awaySince ??= Date.now();
    this.#requeue(messages);
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#sendWaiting();
    }, this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, this.#retryMaxMs);
  }

  #requeue(messages: PendingMessage[]): void {
    for (const message of messages) {
      this.#inFlight.delete(message.token);
      message.token = 0;
    }
    this.#resend = [...messages, ...this.#resend].sort((a, b) => a.ordinal - b.ordinal);
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
      const refused = status.permissionContext;
      if (status.type === Events.Error && refused?.operation === 'publish') {
        this.#failSubject(refused.subject, String(status.data));
      } else if (status.type === Events.Disconnect) {
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

  /**
   * NATS refused a publish to `subject` (a permissions violation, which it reports without
   * saying which message): the messages sent there fail now instead of timing out for ever.
   */
  #failSubject(subject: string, reason: string): void {
    const error = new PublishNotPermittedError('publish', subject, reason);
    const refused = [...this.#inFlight.values(), ...this.#resend].filter(
      (message) => message.subject === subject,
    );
    for (const message of refused) this.#inFlight.delete(message.token);
    this.#resend = this.#resend.filter((message) => message.subject !== subject);
    for (const message of refused) {
      this.#pending -= message.events.length;
      for (const event of message.events) event.reject(error);
    }
    this.#scheduleSend();
    this.#resolveFlushWaiters();
  }

  #failAll(error: Error): void {
    const messages = [...this.#inFlight.values(), ...this.#resend];
    const unsent = [...this.#unsent.values()];
    this.#inFlight.clear();
    this.#resend = [];
    this.#unsent.clear();
    this.#subjectTurns = [];
    this.#pending = 0;
    for (const message of messages) for (const event of message.events) event.reject(error);
    for (const queue of unsent) for (const event of queue) event.reject(error);
    this.#resolveFlushWaiters();
  }

  #resolveFlushWaiters(): void {
    if (this.pending > 0 || this.#flushWaiters.length === 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** MetricEventBatch's `events` (events.proto). */
const METRIC_BATCH_EVENTS_FIELD = 1;

/**
 * The id of a batch: its first event's id, how many follow, and a digest of all their ids,
 * so that two batches share an id only when they hold the same events.
 */
function batchMessageId(events: readonly PendingEvent[]): string {
  const digest = createHash('sha256');
  for (const event of events) digest.update(event.eventId).update('\n');
  return `${events[0]?.eventId}+${events.length - 1}:${digest.digest('hex').slice(0, 24)}`;
}
