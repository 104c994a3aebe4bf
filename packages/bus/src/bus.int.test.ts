import {
  LifecycleEvent,
  MessageDecodeError,
  type MessageInit,
  type MetricEvent,
  MetricEventBatch,
  MetricKind,
  Stage,
} from '@masksweep/proto';
import { type NatsServer, startNatsServer } from '@masksweep/testing';
import { Events, type NatsConnection } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus } from './connection.js';
import {
  consumeEvents,
  type DecodedEvent,
  type EventConsumer,
  type PoisonMessage,
} from './consumer.js';
import {
  InvalidOptionError,
  MisaddressedEventError,
  PublisherBufferFullError,
  PublisherClosedError,
} from './errors.js';
import { lifecycleEventId, metricEventId } from './event-ids.js';
import { EventPublisher, MESSAGE_ID_HEADER } from './publisher.js';
import { EVENTS_STREAM, ensureStream } from './stream.js';
import { type EventAddress, subjectFor } from './subjects.js';

function metric(step: number, trial = `trial-${step % 7}`): MessageInit<MetricEvent> {
  return {
    namespace: 'research',
    sweep: 'paper.v1',
    trial,
    attempt: 1,
    stage: Stage.STAGE_PRETRAIN,
    kind: MetricKind.METRIC_KIND_TRAIN,
    step,
    epoch: Math.floor(step / 100),
    values: { loss: 1 / (step + 1), lr: 0.001 },
    wallTimeMs: 1_767_225_600_000 + step,
  };
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface StoredMessage {
  messageId: string;
  /** The ids of the events it holds. */
  eventIds: string[];
}

/** Every message of the events stream, read back with an ordered consumer. */
async function storedMessages(connection: NatsConnection): Promise<StoredMessage[]> {
  const info = await (await connection.jetstreamManager()).streams.info(EVENTS_STREAM);
  if (info.state.messages === 0) return [];
  const messages = await (await connection.jetstream().consumers.get(EVENTS_STREAM)).consume();
  const stored: StoredMessage[] = [];
  for await (const message of messages) {
    stored.push({
      messageId: message.headers?.get(MESSAGE_ID_HEADER) ?? '',
      eventIds: message.subject.endsWith('.metric')
        ? MetricEventBatch.decode(message.data).events.map(metricEventId)
        : [lifecycleEventId(LifecycleEvent.decode(message.data))],
    });
    if (message.info.pending === 0) break;
  }
  await messages.close();
  return stored;
}

/** The ids of the events in the stream, one per stored copy. */
async function storedEvents(connection: NatsConnection): Promise<string[]> {
  return (await storedMessages(connection)).flatMap((message) => message.eventIds);
}

// Every test gets its own server; it and the test's connections are closed after each.
let testServer: NatsServer | undefined;
const connections: NatsConnection[] = [];
async function startBus(): Promise<{ server: NatsServer; connection: NatsConnection }> {
  testServer = await startNatsServer();
  const connection = await connect();
  await ensureStream(connection);
  return { server: testServer, connection };
}
async function connect(): Promise<NatsConnection> {
  const connection = await connectBus({ servers: testServer?.url, reconnectTimeWait: 100 });
  connections.push(connection);
  return connection;
}
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await testServer?.stop();
  testServer = undefined;
});

describe('the events stream', () => {
  it('is created once and brought to changed limits', async () => {
    const { connection } = await startBus();
    const first = await ensureStream(connection);
    expect(first.config).toMatchObject({
      name: 'MASKSWEEP_EVENTS',
      subjects: ['masksweep.>'],
      storage: 'file',
      retention: 'limits',
      discard: 'old',
      max_age: 30 * 24 * 3600 * 1e9,
      duplicate_window: 600 * 1e9,
    });
    const again = await ensureStream(connection);
    expect(again.created).toBe(first.created);
    const changed = await ensureStream(connection, {
      maxAgeMs: 3_600_000,
      duplicateWindowMs: 60_000,
    });
    expect(changed.created).toBe(first.created);
    expect(changed.config.max_age).toBe(3600 * 1e9);
    expect(changed.config.duplicate_window).toBe(60 * 1e9);
  });
});

describe('EventPublisher', () => {
  it('refuses unusable options and events, naming them', async () => {
    const { connection } = await startBus();
    expect(() => new EventPublisher({ connection, capacity: 0 })).toThrow(
      new InvalidOptionError('capacity', 'must be an integer >= 1, got 0'),
    );
    expect(() => new EventPublisher({ connection, retryMinMs: 500, retryMaxMs: 100 })).toThrow(
      'retryMaxMs: must be an integer >= 500, got 100',
    );
    const publisher = new EventPublisher({ connection });
    await expect(publisher.publishMetric({ ...metric(1), trial: 'Trial 1' })).rejects.toThrow(
      'trial: "Trial 1" contains "T"',
    );
    await expect(publisher.publishMetric({ ...metric(1), attempt: -1 })).rejects.toThrow(
      'masksweep.v1.MetricEvent: attempt: uint32 must be an integer in [0, 4294967295], got -1',
    );
    await expect(
      publisher.publishLifecycle({ namespace: 'ns', sweep: 's', trial: 't' }),
    ).rejects.toThrow('event: one of started, stageChanged');
    await publisher.close();
    await expect(publisher.publishMetric(metric(1))).rejects.toThrow(PublisherClosedError);
    await expect(
      consumeEvents({
        connection,
        durable: 'x',
        batchSize: 0,
        handler: async () => {},
        onPoison: () => {},
      }),
    ).rejects.toThrow('batchSize: must be an integer >= 1, got 0');
    await expect(
      consumeEvents({
        connection,
        durable: 'lead.board',
        handler: async () => {},
        onPoison: () => {},
      }),
    ).rejects.toThrow('durable: "lead.board" is not a consumer name');
    expect(await storedEvents(connection)).toEqual([]);
  });

  it('stores a re-sent event once, also when it is re-sent after a reconnect', async () => {
    const { server, connection } = await startBus();
    const publisher = new EventPublisher({ connection });
    const event = metric(42);
    await publisher.publishMetric(event);
    await publisher.publishMetric(event);
    const lifecycle = { namespace: 'research', sweep: 'paper.v1', trial: 'trial-0', attempt: 1 };
    await publisher.publishLifecycle({ ...lifecycle, started: { worker: 'pod-a' } });
    await publisher.publishLifecycle({ ...lifecycle, started: { worker: 'pod-a' } });
    const stored = ['research/trial-0/1/pretrain/train/42', 'research/trial-0/1/lifecycle/started'];
    expect(await storedEvents(connection)).toEqual(stored);

    await server.restart();
    await publisher.publishMetric(event);
    await publisher.flush();
    expect(await storedEvents(connection)).toEqual(stored);
    // The same step of another attempt is another event.
    await publisher.publishMetric({ ...event, attempt: 2 });
    expect(await storedEvents(connection)).toEqual([
      ...stored,
      'research/trial-0/2/pretrain/train/42',
    ]);
    await publisher.close();
  });

  it("sends a trial's metric events published together in batches of at most maxBatchEvents, each once", async () => {
    const { connection } = await startBus();
    const publisher = new EventPublisher({ connection, maxBatchEvents: 4 });
    const together = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((step) => metric(step, 'trial-a'));
    await Promise.all(together.map((event) => publisher.publishMetric(event)));
    // Published one at a time, each waiting for its acknowledgement: one message each.
    for (const step of [10, 11]) await publisher.publishMetric(metric(step, 'trial-a'));
    const messages = await storedMessages(connection);
    expect(messages.map((message) => message.eventIds.length)).toEqual([4, 4, 2, 1, 1]);
    expect(messages.flatMap((message) => message.eventIds)).toEqual(
      [...together, metric(10, 'trial-a'), metric(11, 'trial-a')].map(metricEventId),
    );
    // A lone event's message has the event's id; a batch's names its first event.
    expect(messages[3]?.messageId).toBe('research/trial-a/1/pretrain/train/10');
    expect(messages[0]?.messageId).toMatch(
      /^research\/trial-a\/1\/pretrain\/train\/0\+3:[0-9a-f]{24}$/,
    );
    expect(new Set(messages.map((message) => message.messageId)).size).toBe(5);
    await publisher.close();
  });

  it('loses and duplicates nothing when nats-server restarts in the middle of publishing', async () => {
    const { server, connection } = await startBus();
    const publisher = new EventPublisher({ connection, ackTimeoutMs: 1000 });
    const total = 3000;
    const published: Promise<void>[] = [];
    let restart: Promise<void> | undefined;
    for (let step = 0; step < total; step++) {
      published.push(publisher.publishMetric(metric(step)));
      if (step === 1000) restart = server.restart();
      // Let the loop go on while the server is away, as a trainer would.
      if (step % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await restart;
    await publisher.flush();
    await Promise.all(published);
    const stored = await storedEvents(connection);
    expect(stored).toHaveLength(total);
    expect(new Set(stored).size).toBe(total);
    await publisher.close();
  }, 60_000);

  it('refuses events when its buffer is full while NATS is away, then delivers the buffered ones', async () => {
    const { server, connection } = await startBus();
    const publisher = new EventPublisher({ connection, capacity: 5 });
    const disconnected = disconnection(connection);
    await server.kill('SIGTERM');
    await disconnected;
    const buffered = [0, 1, 2, 3, 4].map((step) => publisher.publishMetric(metric(step)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await publisher.publishMetric(metric(5)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PublisherBufferFullError);
    expect((refused as PublisherBufferFullError).capacity).toBe(5);
    expect((refused as PublisherBufferFullError).awayMs).toBeGreaterThanOrEqual(300);
    expect((refused as Error).message).toMatch(
      /buffer full: 5 events \(the capacity\).*NATS has been away for \d+\.\d s \(disconnected from/,
    );

    await server.restart();
    await publisher.flush();
    await Promise.all(buffered);
    expect(await storedEvents(connection)).toHaveLength(5);
    await publisher.close();
  }, 30_000);
});

/** Resolves when the client notices that the server is gone. */
async function disconnection(connection: NatsConnection): Promise<void> {
  for await (const status of connection.status()) {
    if (status.type === Events.Disconnect) return;
  }
}

describe('consumeEvents', () => {
  it('gets every event of 3 publishers at least once, and exactly once by id, across a consumer restart', async () => {
    await startBus();
    const total = 10_000;
    const publishing = Promise.all(
      [0, 1, 2].map(async (p) => {
        const publisher = new EventPublisher({ connection: await connect() });
        const mine: Promise<void>[] = [];
        for (let step = p; step < total; step += 3)
          mine.push(publisher.publishMetric(metric(step)));
        await Promise.all(mine);
        await publisher.close();
      }),
    );

    const received: DecodedEvent[] = [];
    let firstStopped: Promise<void> | undefined;
    const start = async (stopAtHalf: boolean) => {
      let consumer: EventConsumer | undefined;
      consumer = await consumeEvents({
        connection: await connect(),
        durable: 'leaderboard',
        batchSize: 200,
        // Events the server sent as the first consumer stopped come again after this.
        ackWaitMs: 2000,
        handler: async (batch) => {
          received.push(...batch);
          // Stopped from its handler, at half: a batch of whole messages holds at most 200
          // events plus one message's 256, so the rest is left for the second consumer.
          if (stopAtHalf && !firstStopped && consumer && received.length >= total / 2)
            firstStopped = consumer.stop();
        },
        onPoison: (poison) => {
          throw new Error(`unexpected poison ${poison.subject}: ${poison.error.message}`);
        },
      });
      return consumer;
    };
    await start(true);
    await waitFor(() => firstStopped !== undefined, 'half of the events');
    await firstStopped;
    const beforeRestart = received.length;
    expect(beforeRestart).toBeLessThan(total);

    const second = await start(false);
    await publishing;
    const unique = () =>
      new Set(received.map((e) => (e.kind === 'metric' ? metricEventId(e.event) : ''))).size;
    await waitFor(() => unique() === total, 'every event');
    await second.stop();

    expect(received.length).toBeGreaterThanOrEqual(total);
    // Published faster than acknowledged, the events went in batches.
    const messages = new Set(received.map((e) => e.streamSequence)).size;
    expect(messages).toBeLessThan(total / 10);
    const steps = new Set(received.map((e) => (e.kind === 'metric' ? e.event.step : -1)));
    expect(steps.size).toBe(total);
    const sample = received.find((e) => e.kind === 'metric' && e.event.step === 4321);
    expect(sample).toMatchObject({
      kind: 'metric',
      subject: 'masksweep.research.paper_v1.trial-2.metric',
      event: { sweep: 'paper.v1', step: 4321, epoch: 43, values: { lr: 0.001 } },
    });
  }, 60_000);

  it('goes on consuming after nats-server restarts', async () => {
    const { server, connection } = await startBus();
    const publisher = new EventPublisher({ connection });
    const received = new Set<string>();
    const consumer = await consumeEvents({
      connection: await connect(),
      durable: 'survivor',
      handler: async (batch) => {
        for (const e of batch) if (e.kind === 'metric') received.add(metricEventId(e.event));
      },
      onPoison: () => {},
    });
    await Promise.all([...Array(100).keys()].map((step) => publisher.publishMetric(metric(step))));
    await waitFor(() => received.size === 100, 'the events before the restart');
    await server.restart();
    await Promise.all(
      [...Array(100).keys()].map((step) => publisher.publishMetric(metric(100 + step))),
    );
    await waitFor(() => received.size === 200, 'the events after the restart');
    await consumer.stop();
    await publisher.close();
  }, 60_000);

  it('redelivers the events of a consumer that died before acknowledging', async () => {
    const { connection } = await startBus();
    const publisher = new EventPublisher({ connection });
    await Promise.all([1, 2, 3].map((step) => publisher.publishMetric(metric(step))));

    const doomed = await connect();
    let handed = 0;
    await consumeEvents({
      connection: doomed,
      durable: 'controller',
      ackWaitMs: 1000,
      handler: async (batch) => {
        handed += batch.length;
        await new Promise(() => {}); // never finishes: the process "dies" in the handler
      },
      onPoison: () => {},
    });
    await waitFor(() => handed === 3, 'the first delivery');
    await doomed.close();

    const redelivered: DecodedEvent[] = [];
    const survivor = await consumeEvents({
      connection: await connect(),
      durable: 'controller',
      ackWaitMs: 1000,
      handler: async (batch) => {
        redelivered.push(...batch);
      },
      onPoison: () => {},
    });
    await waitFor(() => redelivered.length === 3, 'the redelivery');
    expect(redelivered.map((e) => e.deliveryCount)).toEqual([2, 2, 2]);
    await survivor.stop();
    await publisher.close();
  }, 30_000);

  it('lets the server delete a consumer with inactiveThresholdMs once its reader is gone', async () => {
    const { connection } = await startBus();
    const reader = await connect();
    await consumeEvents({
      connection: reader,
      durable: 'short-lived',
      inactiveThresholdMs: 500,
      handler: async () => {},
      onPoison: () => {},
    });
    const manager = await connection.jetstreamManager();
    // A listing taken while the server deletes the consumer may hold a null entry for it.
    const names = async () =>
      (await manager.consumers.list(EVENTS_STREAM).next())
        .filter((consumer) => consumer !== null)
        .map((consumer) => consumer.name);
    expect(await names()).toEqual(['short-lived']);
    await reader.close(); // the process died without deleting its consumer
    await waitFor(async () => (await names()).length === 0, 'the server to delete the consumer');
  }, 30_000);

  it('terminates and reports undecodable messages, and retries a failing handler', async () => {
    const { connection } = await startBus();
    const js = connection.jetstream();
    const subject = subjectFor({ namespace: 'ns', sweep: 's', trial: 't', kind: 'metric' });
    await js.publish(subject, new TextEncoder().encode('not protobuf'));
    await js.publish('masksweep.not-an-event', new Uint8Array());
    const publisher = new EventPublisher({ connection });
    await publisher.publishMetric(metric(7));
    await publisher.publishMetric(metric(8));

    const poisoned: PoisonMessage[] = [];
    const handled: DecodedEvent[] = [];
    let failures = 0;
    const consumer = await consumeEvents({
      connection: await connect(),
      durable: 'pruner',
      ackWaitMs: 500,
      retryDelaysMs: [100],
      handler: async (batch) => {
        if (batch.some((e) => e.kind === 'metric' && e.event.step === 8) && failures++ < 2) {
          throw new Error('database busy');
        }
        handled.push(...batch);
      },
      onPoison: (poison) => poisoned.push(poison),
    });
    await waitFor(() => handled.some((e) => e.kind === 'metric' && e.event.step === 8), 'step 8');
    // Past the ack wait: a terminated message does not come back.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await consumer.stop();

    expect(poisoned.map((p) => [p.subject, p.streamSequence])).toEqual([
      [subject, 1],
      ['masksweep.not-an-event', 2],
    ]);
    expect(poisoned[0]?.error).toBeInstanceOf(MessageDecodeError);
    expect(poisoned[1]?.error.message).toContain('subject: "masksweep.not-an-event"');
    expect(failures).toBe(3);
    const step8 = handled.filter((e) => e.kind === 'metric' && e.event.step === 8);
    expect(step8.map((e) => e.deliveryCount)).toEqual([3]);
    expect(handled.filter((e) => e.kind === 'metric' && e.event.step === 7)).toHaveLength(1);
    await publisher.close();
  }, 30_000);

  it("terminates an event that names another trial than its subject's, and reports it", async () => {
    const { connection } = await startBus();
    const js = connection.jetstream();
    const own = metric(3, 'trial-a');
    // Published on trial-a's subject, but naming another sweep's trial in its payload.
    const forged = { ...metric(4, 'trial-b'), sweep: 'other-sweep' };
    const subject = subjectFor({ ...own, kind: 'metric' } as EventAddress);
    await js.publish(subject, MetricEventBatch.encode({ events: [forged] }));
    await js.publish(subject, MetricEventBatch.encode({ events: [own] }));

    const poisoned: PoisonMessage[] = [];
    const handled: DecodedEvent[] = [];
    const consumer = await consumeEvents({
      connection: await connect(),
      durable: 'subject-bound',
      handler: async (batch) => {
        handled.push(...batch);
      },
      onPoison: (poison) => poisoned.push(poison),
    });
    await waitFor(() => handled.length === 1 && poisoned.length === 1, 'both messages');
    await consumer.stop();
    expect(handled.map((e) => [e.event.sweep, e.event.trial])).toEqual([['paper.v1', 'trial-a']]);
    expect(poisoned[0]?.error).toBeInstanceOf(MisaddressedEventError);
    expect(poisoned[0]?.error.message).toBe(
      `the event's sweep is "other-sweep" but its subject ${subject} names "paper.v1"`,
    );
  }, 30_000);

  it('terminates an event whose handler fails on every delivery, and reports it', async () => {
    const { connection } = await startBus();
    const publisher = new EventPublisher({ connection });
    await publisher.publishMetric(metric(1));
    const poisoned: PoisonMessage[] = [];
    let calls = 0;
    const consumer = await consumeEvents({
      connection: await connect(),
      durable: 'broken',
      maxDeliver: 3,
      retryDelaysMs: [50],
      handler: async () => {
        calls++;
        throw new Error('always broken');
      },
      onPoison: (poison) => poisoned.push(poison),
    });
    await waitFor(() => poisoned.length === 1, 'the poison report');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await consumer.stop();
    expect(calls).toBe(3);
    expect(poisoned[0]?.deliveryCount).toBe(3);
    expect(poisoned[0]?.error.message).toBe(
      'the handler failed on all 3 deliveries; last: Error: always broken',
    );
    await publisher.close();
  }, 30_000);
});
