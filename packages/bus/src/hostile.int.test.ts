/**
 * The events stream fed by a careless or hostile publisher, on a real nats-server: a message
 * id used twice is stored once whatever the second message carries, and malformed messages
 * (not protobuf, truncated, empty, huge, the other kind's payload) are terminated and
 * reported one by one while the good messages around them are all handled, once.
 */
import {
  type MessageInit,
  type MetricEvent,
  MetricEventBatch,
  MetricKind,
  Stage,
} from '@masksweep/proto';
import { type NatsServer, startNatsServer } from '@masksweep/testing';
import { type NatsConnection, headers as natsHeaders } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { connectBus } from './connection.js';
import { consumeEvents, type DecodedEvent, type PoisonMessage } from './consumer.js';
import { MESSAGE_ID_HEADER } from './publisher.js';
import { EVENTS_STREAM, ensureStream } from './stream.js';
import { subjectFor } from './subjects.js';

const ADDRESS = { namespace: 'lab', sweep: 'study', trial: 'study-0' };
const METRIC_SUBJECT = subjectFor({ ...ADDRESS, kind: 'metric' });
const LIFECYCLE_SUBJECT = subjectFor({ ...ADDRESS, kind: 'lifecycle' });

function metric(step: number): MessageInit<MetricEvent> {
  return {
    ...ADDRESS,
    attempt: 1,
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_TRAIN,
    step,
    epoch: 0,
    values: { loss: 1 / (step + 1) },
    wallTimeMs: 1_767_225_600_000 + step,
  };
}
const batchOf = (...steps: number[]) => MetricEventBatch.encode({ events: steps.map(metric) });

let server: NatsServer | undefined;
const connections: NatsConnection[] = [];
async function connect(): Promise<NatsConnection> {
  const connection = await connectBus({ servers: server?.url });
  connections.push(connection);
  return connection;
}
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await server?.stop();
  server = undefined;
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Consumes the stream into lists until stopped. */
async function consume(durable: string) {
  const handled: DecodedEvent[] = [];
  const poisoned: PoisonMessage[] = [];
  const consumer = await consumeEvents({
    connection: await connect(),
    durable,
    ackWaitMs: 1_000,
    handler: async (batch) => {
      handled.push(...batch);
    },
    onPoison: (poison) => poisoned.push(poison),
  });
  const steps = () => handled.map((e) => (e.kind === 'metric' ? e.event.step : -1));
  return { handled, poisoned, consumer, steps };
}

describe('the events stream against a hostile publisher', () => {
  it('stores a message id once, whatever a second message under it carries', async () => {
    server = await startNatsServer();
    const connection = await connect();
    await ensureStream(connection);
    const js = connection.jetstream();
    const publish = (data: Uint8Array, id: string) => {
      const headers = natsHeaders();
      headers.set(MESSAGE_ID_HEADER, id);
      return js.publish(METRIC_SUBJECT, data, { headers });
    };
    const first = await publish(batchOf(1), 'lab/study-0/1/finetune/train/1');
    // The same id with other figures: a forged or buggy re-send does not replace the first.
    const again = await publish(batchOf(2), 'lab/study-0/1/finetune/train/1');
    const garbage = await publish(
      new TextEncoder().encode('junk'),
      'lab/study-0/1/finetune/train/1',
    );
    expect([first.duplicate, again.duplicate, garbage.duplicate]).toEqual([false, true, true]);
    expect([again.seq, garbage.seq]).toEqual([first.seq, first.seq]);
    const info = await (await connection.jetstreamManager()).streams.info(EVENTS_STREAM);
    expect(info.state.messages).toBe(1);

    const reader = await consume('dedup');
    await waitFor(() => reader.handled.length === 1, 'the stored message');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await reader.consumer.stop();
    expect(reader.steps()).toEqual([1]);
    expect(reader.poisoned).toEqual([]);
  }, 30_000);

  it('terminates each malformed message and handles every good one around them once', async () => {
    server = await startNatsServer();
    const connection = await connect();
    await ensureStream(connection);
    const js = connection.jetstream();
    const valid = batchOf(100, 101, 102);
    // What each is, where it goes, and the error it is terminated with.
    const malformed: Array<[string, string, Uint8Array, string]> = [
      [
        'not protobuf',
        METRIC_SUBJECT,
        new TextEncoder().encode('{"step": 1}'),
        'MessageDecodeError',
      ],
      ['truncated', METRIC_SUBJECT, valid.subarray(0, valid.length - 5), 'MessageDecodeError'],
      [
        'a varint that never ends',
        METRIC_SUBJECT,
        Uint8Array.from([0x0a, 0xff, 0xff, 0xff]),
        'MessageDecodeError',
      ],
      [
        'huge (900 KB of 0xff)',
        METRIC_SUBJECT,
        new Uint8Array(900 * 1024).fill(0xff),
        'MessageDecodeError',
      ],
      // Decodes as a lifecycle event of no namespace, or of nonsense: not its subject's.
      [
        'empty, on a lifecycle subject',
        LIFECYCLE_SUBJECT,
        new Uint8Array(),
        'MisaddressedEventError',
      ],
      ['a metric batch on a lifecycle subject', LIFECYCLE_SUBJECT, valid, 'MisaddressedEventError'],
    ];
    // good, bad, good, bad, ...: a poison message must not hold up the ones after it.
    let step = 0;
    for (const [, subject, data] of malformed) {
      await js.publish(METRIC_SUBJECT, batchOf(step++));
      await js.publish(subject, data);
    }
    // An empty message on a metric subject is a batch of no events: nothing to store, no poison.
    await js.publish(METRIC_SUBJECT, new Uint8Array());
    await js.publish(METRIC_SUBJECT, batchOf(step++));

    const reader = await consume('hostile');
    await waitFor(
      () => reader.steps().length === step && reader.poisoned.length === malformed.length,
      'every good event and every poison report',
    );
    // Still consuming: a good event published after all of it arrives.
    await js.publish(METRIC_SUBJECT, batchOf(step));
    await waitFor(() => reader.steps().includes(step), 'the event after the poison');
    // Past the ack wait: nothing terminated comes back, nothing good comes twice.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await reader.consumer.stop();

    expect(reader.steps()).toEqual(Array.from({ length: step + 1 }, (_, i) => i));
    expect(reader.poisoned.map((p) => p.streamSequence)).toEqual(
      malformed.map((_, i) => 2 * i + 2),
    );
    expect(reader.poisoned.map((p) => p.deliveryCount)).toEqual(malformed.map(() => 1));
    expect(reader.poisoned.map((p) => [p.subject, p.error.name])).toEqual(
      malformed.map(([, subject, , error]) => [subject, error]),
    );
  }, 60_000);
});
