import { LifecycleEvent, type MetricEvent, MetricEventBatch } from '@masksweep/proto';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  type NatsConnection,
  type NatsError,
  nanos,
} from 'nats';
import { checkInteger, InvalidOptionError, MisaddressedEventError } from './errors.js';
import { MESSAGE_ID_HEADER } from './publisher.js';
import { EVENTS_STREAM } from './stream.js';
import { allEventsSubject, type EventAddress, parseSubject } from './subjects.js';

/** The message an event came in; the metric events of one batch share it. */
interface Delivery {
  subject: string;
  /** The message's sequence number in the stream. */
  streamSequence: number;
  /** 1 on the first delivery, more on redeliveries. */
  deliveryCount: number;
  /**
   * The publisher's de-duplication id of the message (`Nats-Msg-Id`); '' when it had none.
   * An event's own id is metricEventId or lifecycleEventId of it.
   */
  messageId: string;
}

/** An event as a handler gets it: the decoded payload and the message it came in. */
export type DecodedEvent =
  | (Delivery & { kind: 'metric'; event: MetricEvent })
  | (Delivery & { kind: 'lifecycle'; event: LifecycleEvent });

/** A message that is terminated instead of retried: it cannot be decoded, or its batch kept failing. */
export interface PoisonMessage extends Delivery {
  data: Uint8Array;
  error: Error;
}

/** What becomes of a message the screen looks at; see {@link ConsumeEventsOptions.screen}. */
export type ScreenVerdict = 'accept' | 'later' | 'refuse';

/** A decoded message as the screen sees it, before its events join a batch. */
export interface ScreenedMessage extends Delivery {
  /** Whose events it carries: its subject's address, which every event of it matches. */
  address: EventAddress;
  /** How many events it holds (a metric message is a batch). */
  events: number;
  /** When JetStream stored it, in ms since the epoch. */
  storedAtMs: number;
}

export interface ConsumeEventsOptions {
  connection: NatsConnection;
  /** The durable consumer's name, one per reading service (e.g. `leaderboard`). */
  durable: string;
  /** Which events; see the filter helpers of subjects.ts. @default allEventsSubject() */
  filterSubject?: string;
  /**
   * Events per handler call: a call gets whole messages until it has at least this many
   * (so up to a message's worth more). @default 256
   */
  batchSize?: number;
  /** How long a partial batch waits for more events before the handler gets it. @default 20 */
  maxBatchWaitMs?: number;
  /**
   * How long the server waits for an acknowledgement before it delivers again (after a
   * crash, say); longer than the handler takes. @default 30000
   */
  ackWaitMs?: number;
  /**
   * Deliveries of an event whose batch keeps failing; the last failure terminates it and
   * reports it through onPoison. -1 for no limit. @default 10
   */
  maxDeliver?: number;
  /** The pause before redelivery after the n-th failure; the last repeats. @default [1000, 5000, 15000, 30000, 60000] */
  retryDelaysMs?: number[];
  /** @default EVENTS_STREAM */
  stream?: string;
  /**
   * The server deletes the consumer after this long without a reader: for a consumer of one
   * process's lifetime, which must not outlive a process that died. @default kept forever
   */
  inactiveThresholdMs?: number;
  /**
   * Looks at each decoded message before its events join a batch: 'accept' lets them in;
   * 'later' leaves the message unacknowledged, to come again after the retryDelaysMs pause
   * of its delivery count (as after a handler failure), and refuses it on its maxDeliver-th
   * delivery; 'refuse' terminates it (never delivered again) and tells onRefused.
   * @default every message accepted
   */
  screen?: (message: ScreenedMessage) => ScreenVerdict;
  /** Told of each message refused by the screen (terminated, not handled). */
  onRefused?: (message: ScreenedMessage) => void;
  /** Gets each batch; its messages are acknowledged only when it resolves, redelivered when it throws. */
  handler: (batch: DecodedEvent[]) => Promise<void>;
  /** Told of each message that is terminated. */
  onPoison: (poison: PoisonMessage) => void;
  /** Told of each handler failure before its batch is redelivered. */
  onHandlerError?: (error: unknown, batch: DecodedEvent[]) => void;
}

export interface EventConsumer {
  /**
   * Settles when consumption ends: resolves after stop(); rejects when it failed (screen,
   * onRefused, onPoison or onHandlerError threw, or the NATS subscription ended with an error).
   */
  readonly closed: Promise<void>;
  /**
   * Stops fetching, lets a running handler finish and acknowledges its batch; events
   * received but not handled go back to the server for immediate redelivery. Events the
   * server was sending as the consumer stopped are delivered again after `ackWaitMs`.
   */
  stop(): Promise<void>;
}

// JetStream API error codes (nats-server's errors.json).
const CONSUMER_NAME_EXISTS = 10013;
const CONSUMER_ALREADY_EXISTS = 10148;

/**
 * Reads events with a durable pull consumer and explicit acknowledgements: at least once,
 * in batches. A restarted process with the same `durable` resumes after the last
 * acknowledged event; events of a process that died unacknowledged are delivered again
 * after `ackWaitMs`. De-duplicate by the event's id (metricEventId, lifecycleEventId) where
 * exactly once matters.
 */
export async function consumeEvents(options: ConsumeEventsOptions): Promise<EventConsumer> {
  const {
    connection,
    durable,
    filterSubject = allEventsSubject(),
    batchSize = 256,
    maxBatchWaitMs = 20,
    ackWaitMs = 30_000,
    maxDeliver = 10,
    retryDelaysMs = [1000, 5000, 15_000, 30_000, 60_000],
    stream = EVENTS_STREAM,
    inactiveThresholdMs,
    screen = () => 'accept',
    onRefused = () => {},
    handler,
    onPoison,
    onHandlerError,
  } = options;
  if (!/^[A-Za-z0-9_-]+$/.test(durable)) {
    throw new InvalidOptionError(
      'durable',
      `${JSON.stringify(durable)} is not a consumer name (letters, digits, '-' and '_')`,
    );
  }
  checkInteger('batchSize', batchSize, 1);
  checkInteger('maxBatchWaitMs', maxBatchWaitMs, 0);
  checkInteger('ackWaitMs', ackWaitMs, 1);
  if (maxDeliver !== -1) checkInteger('maxDeliver', maxDeliver, 1);
  for (const [i, ms] of retryDelaysMs.entries()) checkInteger(`retryDelaysMs[${i}]`, ms, 0);
  if (inactiveThresholdMs !== undefined)
    checkInteger('inactiveThresholdMs', inactiveThresholdMs, 1);
  if (retryDelaysMs.length === 0) {
    throw new InvalidOptionError('retryDelaysMs', 'must hold at least one delay');
  }
  await ensureConsumer(connection, stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filterSubject,
    ack_wait: nanos(ackWaitMs),
    max_deliver: maxDeliver,
    // Room for a batch being handled, the next one fetched, and redeliveries.
    max_ack_pending: Math.max(1000, batchSize * 4),
    ...(inactiveThresholdMs !== undefined && { inactive_threshold: nanos(inactiveThresholdMs) }),
  });
  const consumer = await connection.jetstream().consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: batchSize * 2 });

  const poison = (message: JsMsg, error: Error) => {
    message.term();
    onPoison({ ...delivery(message), data: message.data, error });
  };

  const retryDelayMs = (deliveries: number) =>
    retryDelaysMs[Math.min(deliveries, retryDelaysMs.length) - 1] ?? 0;

  /** Whether the message's events may join a batch; settles it when they may not. */
  const admit = (message: JsMsg, events: DecodedEvent[]): boolean => {
    const screened: ScreenedMessage = {
      ...delivery(message),
      address: parseSubject(message.subject),
      events: events.length,
      storedAtMs: Math.floor(message.info.timestampNanos / 1e6),
    };
    let verdict = screen(screened);
    if (verdict === 'later' && maxDeliver > 0 && screened.deliveryCount >= maxDeliver) {
      verdict = 'refuse';
    }
    if (verdict === 'accept') return true;
    if (verdict === 'later') {
      message.nak(retryDelayMs(screened.deliveryCount));
    } else {
      message.term();
      onRefused(screened);
    }
    return false;
  };

  const handle = async (batch: DecodedMessage[]) => {
    const events = batch.flatMap((message) => message.events);
    try {
      // Messages of no events (an empty batch) are only acknowledged.
      if (events.length > 0) await handler(events);
    } catch (error) {
      onHandlerError?.(error, events);
      for (const { message } of batch) {
        const deliveries = message.info.redeliveryCount;
        if (maxDeliver > 0 && deliveries >= maxDeliver) {
          poison(
            message,
            new Error(
              `the handler failed on all ${deliveries} deliveries; last: ${String(error)}`,
              { cause: error },
            ),
          );
        } else {
          message.nak(retryDelayMs(deliveries));
        }
      }
      return;
    }
    for (const { message } of batch) message.ack();
  };

  const closed = readBatches(messages, batchSize, maxBatchWaitMs, poison, admit, handle).then(
    (unhandled) => {
      if (connection.isClosed()) return;
      for (const message of unhandled) message.nak();
    },
  );
  return {
    closed,
    async stop() {
      messages.stop();
      await closed;
      if (!connection.isClosed()) await connection.flush();
    },
  };
}

/** A message and the events it holds. */
interface DecodedMessage {
  message: JsMsg;
  events: DecodedEvent[];
}

/**
 * Feeds `handle` batches of decoded messages: as many as hold `batchSize` events, or what
 * arrived when the consumer has caught up (nothing pending) or `maxWaitMs` after the first
 * message. A message that cannot be decoded goes to `poison` instead, one that `admit`
 * settles otherwise is left out. Resolves, when the messages end, with those fetched but
 * not handled.
 */
async function readBatches(
  messages: ConsumerMessages,
  batchSize: number,
  maxWaitMs: number,
  poison: (message: JsMsg, error: Error) => void,
  admit: (message: JsMsg, events: DecodedEvent[]) => boolean,
  handle: (batch: DecodedMessage[]) => Promise<void>,
): Promise<JsMsg[]> {
  const iterator = messages[Symbol.asyncIterator]();
  let next = iterator.next();
  let batch: DecodedMessage[] = [];
  let events = 0;
  let waited: { promise: Promise<'waited'>; cancel(): void } | undefined;
  const handleBatch = async () => {
    waited?.cancel();
    waited = undefined;
    const full = batch;
    batch = [];
    events = 0;
    if (full.length > 0) await handle(full);
  };
  for (;;) {
    const result = waited ? await Promise.race([next, waited.promise]) : await next;
    if (result === 'waited') {
      await handleBatch();
      continue;
    }
    if (result.done) break;
    next = iterator.next();
    const message = result.value;
    let decoded: DecodedEvent[] | undefined;
    try {
      decoded = decode(message);
    } catch (error) {
      poison(message, error as Error);
    }
    if (decoded && admit(message, decoded)) {
      batch.push({ message, events: decoded });
      events += decoded.length;
    }
    if (events >= batchSize || message.info.pending === 0) await handleBatch();
    else waited ??= delay(maxWaitMs);
  }
  waited?.cancel();
  return batch.map(({ message }) => message);
}

function delay(ms: number): { promise: Promise<'waited'>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'waited'>((resolve) => {
    timer = setTimeout(() => resolve('waited'), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

function delivery(message: JsMsg): Delivery {
  return {
    subject: message.subject,
    streamSequence: message.seq,
    deliveryCount: message.info.redeliveryCount,
    messageId: message.headers?.get(MESSAGE_ID_HEADER) ?? '',
  };
}

/** The events of a message: a metric subject's MetricEventBatch, or one lifecycle event. */
function decode(message: JsMsg): DecodedEvent[] {
  const address = parseSubject(message.subject);
  const from = delivery(message);
  const decoded: DecodedEvent[] =
    address.kind === 'lifecycle'
      ? [{ ...from, kind: 'lifecycle', event: LifecycleEvent.decode(message.data) }]
      : MetricEventBatch.decode(message.data).events.map((event: MetricEvent) => ({
          ...from,
          kind: 'metric' as const,
          event,
        }));
  // The subject is what NATS permissions can restrict, so it is the event's owner: an
  // event naming another trial than its subject is refused, not filed under that trial.
  for (const { event } of decoded) {
    for (const field of ['namespace', 'sweep', 'trial'] as const) {
      if (event[field] !== address[field]) {
        throw new MisaddressedEventError(
          `the event's ${field} is ${JSON.stringify(event[field])} but its subject ${message.subject} names ${JSON.stringify(address[field])}`,
        );
      }
    }
  }
  return decoded;
}

/** Creates the durable consumer, or updates the settings of an existing one. */
async function ensureConsumer(
  connection: NatsConnection,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  const manager = await connection.jetstreamManager();
  try {
    await manager.consumers.add(stream, config);
  } catch (error) {
    const code = (error as NatsError).api_error?.err_code;
    if (code !== CONSUMER_NAME_EXISTS && code !== CONSUMER_ALREADY_EXISTS) throw error;
    const { durable_name, deliver_policy, ack_policy, ...editable } = config;
    await manager.consumers.update(stream, durable_name, editable);
  }
}
