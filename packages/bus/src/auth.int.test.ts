/**
 * Per-role NATS credentials on a real nats-server in operator mode: a trial user of sweep A
 * publishes A's events and is refused B's (a clear error, no hang); a reader consumes and
 * publishes no event; an anonymous client is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MessageInit, type MetricEvent, MetricKind, Stage } from '@masksweep/proto';
import { startNatsServer } from '@masksweep/testing';
import { ErrorCode, type NatsConnection, NatsError } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connection.js';
import { consumeEvents, type DecodedEvent } from './consumer.js';
import { busCredentialsFromEnv, credentialOptions } from './credentials.js';
import { InvalidOptionError, PublishNotPermittedError } from './errors.js';
import { type AuthNatsServer, startAuthNatsServer } from './nats-auth.test-support.js';
import { EventPublisher } from './publisher.js';
import { ensureStream } from './stream.js';
import { subjectFor } from './subjects.js';

function metric(sweep: string, step: number): MessageInit<MetricEvent> {
  return {
    namespace: 'lab',
    sweep,
    trial: `${sweep}-0`,
    attempt: 1,
    stage: Stage.STAGE_PRETRAIN,
    kind: MetricKind.METRIC_KIND_TRAIN,
    step,
    epoch: 0,
    values: { loss: 1 / (step + 1) },
    wallTimeMs: 1_767_225_600_000 + step,
  };
}

let nats: AuthNatsServer;
const connections: NatsConnection[] = [];
async function connectAs(credsFile: string): Promise<NatsConnection> {
  const connection = await connectBus({ servers: nats.server.url, credentials: { credsFile } });
  connections.push(connection);
  return connection;
}
beforeAll(async () => {
  nats = await startAuthNatsServer();
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await nats?.server.stop();
});

describe('NATS credentials per role', () => {
  it('lets a trial publish its own sweep, refuses it another sweep, and lets a reader consume', async () => {
    const reader = await connectAs(await nats.credsFile({ kind: 'reader', name: 'leaderboard' }));
    await ensureStream(reader);
    const trial = await connectAs(
      await nats.credsFile({ kind: 'trial', namespace: 'lab', sweep: 'sweep-a' }),
    );
    const publisher = new EventPublisher({ connection: trial, ackTimeoutMs: 1000 });

    // Its own sweep: stored.
    await Promise.all([0, 1, 2].map((step) => publisher.publishMetric(metric('sweep-a', step))));
    // Another sweep: refused at once with the subject named, not retried for ever.
    const started = Date.now();
    const refusal = await publisher.publishMetric(metric('sweep-b', 0)).catch((e) => e);
    expect(refusal).toBeInstanceOf(PublishNotPermittedError);
    expect(refusal.message).toContain(
      `publish to ${subjectFor({ namespace: 'lab', sweep: 'sweep-b', trial: 'sweep-b-0', kind: 'metric' })}`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(publisher.pending).toBe(0);
    // The refusal ends nothing else: its own sweep still goes through.
    await publisher.publishMetric(metric('sweep-a', 3));
    await publisher.close();

    const received: DecodedEvent[] = [];
    const consumer = await consumeEvents({
      connection: reader,
      durable: 'leaderboard',
      handler: async (batch) => {
        received.push(...batch);
      },
      onPoison: (poison) => {
        throw poison.error;
      },
    });
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(4);
    await consumer.stop();
    expect(new Set(received.map((e) => e.event.sweep))).toEqual(new Set(['sweep-a']));

    // A trial reads nothing: neither the events as they pass nor the stream.
    const eavesdropper = trial.subscribe('masksweep.>');
    const eavesdropped = await (async () => {
      for await (const _ of eavesdropper) return 'a message';
      return 'nothing';
    })().catch((e) => e);
    expect(eavesdropped).toBeInstanceOf(NatsError);
    expect(eavesdropped.code).toBe(ErrorCode.PermissionsViolation);
    await expect(
      trial.jetstream().consumers.get('MASKSWEEP_EVENTS', 'leaderboard'),
    ).rejects.toThrow();

    // A reader publishes no event.
    const readerPublisher = new EventPublisher({ connection: reader });
    await expect(readerPublisher.publishMetric(metric('sweep-a', 9))).rejects.toThrow(
      PublishNotPermittedError,
    );
    await readerPublisher.close();
  });

  it('refuses an anonymous client and a user the account did not sign', async () => {
    const anonymous = await connectBus({ servers: nats.server.url, maxReconnectAttempts: 0 }).catch(
      (e) => e,
    );
    expect(anonymous).toBeInstanceOf(NatsError);
    expect(anonymous.code).toBe(ErrorCode.AuthorizationViolation);

    // A user minted by a different authority's key: the server does not know its account.
    const stranger = await startAuthNatsServer();
    try {
      const foreign = await stranger.credsFile({ kind: 'reader', name: 'intruder' });
      const refused = await connectBus({
        servers: nats.server.url,
        maxReconnectAttempts: 0,
        credentials: { credsFile: foreign },
      }).catch((e) => e);
      expect(refused).toBeInstanceOf(NatsError);
      expect(refused.code).toBe(ErrorCode.AuthorizationViolation);
    } finally {
      await stranger.server.stop();
    }
  });

  it('connects with a user and password to a server configured with them', async () => {
    const server = await startNatsServer({
      args: ['--user', 'leaderboard', '--pass', 'p4ss-w0rd'],
    });
    try {
      const connection = await connectBus({
        servers: server.url,
        credentials: busCredentialsFromEnv({
          MASKSWEEP_NATS_USER: 'leaderboard',
          MASKSWEEP_NATS_PASSWORD: 'p4ss-w0rd',
        }),
      });
      await ensureStream(connection);
      await connection.close();
      const refused = await connectBus({
        servers: server.url,
        maxReconnectAttempts: 0,
        credentials: { user: 'leaderboard', password: 'wrong' },
      }).catch((e) => e);
      expect(refused.code).toBe(ErrorCode.AuthorizationViolation);
    } finally {
      await server.stop();
    }
  });

  it('reads credentials from the environment and names the variable of a bad one', async () => {
    expect(busCredentialsFromEnv({})).toBeUndefined();
    expect(busCredentialsFromEnv({ MASKSWEEP_NATS_CREDS: '/run/nats/user.creds' })).toEqual({
      credsFile: '/run/nats/user.creds',
      user: undefined,
      password: undefined,
    });
    const missing = join(nats.server.storeDir, 'missing.creds');
    await expect(credentialOptions({ credsFile: missing })).rejects.toThrow(
      new InvalidOptionError('MASKSWEEP_NATS_CREDS', `cannot read ${missing}: ENOENT`).message,
    );
    const garbage = join(nats.server.storeDir, 'garbage.creds');
    writeFileSync(garbage, 'not a creds file\n');
    await expect(credentialOptions({ credsFile: garbage })).rejects.toThrow(
      /MASKSWEEP_NATS_CREDS: .*garbage\.creds is not a NATS credentials file/,
    );
    await expect(credentialOptions({ user: 'leaderboard' })).rejects.toThrow(
      /MASKSWEEP_NATS_PASSWORD: MASKSWEEP_NATS_USER and MASKSWEEP_NATS_PASSWORD go together/,
    );
    // A trial's creds set the inbox its acknowledgements come to.
    const trial = await nats.credsFile({ kind: 'trial', namespace: 'lab', sweep: 'sweep-a' });
    expect((await credentialOptions({ credsFile: trial })).inboxPrefix).toBe(
      '_INBOX.trial.lab.sweep-a',
    );
  });
});
