/**
 * NATS credentials in Secrets, on a real API server and a real nats-server: the authority
 * Secret is made once, each Sweep gets an owned Secret whose trial user publishes that
 * sweep's events and no other's, and the readers' credentials consume.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SweepObject, validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import {
  connectBus,
  consumeEvents,
  EventPublisher,
  ensureStream,
  PublishNotPermittedError,
} from '@masksweep/bus';
import { MetricKind, Stage } from '@masksweep/proto';
import { startNatsServer } from '@masksweep/testing';
import type { NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { useApiServerWithCrds } from './cluster.test-support.js';
import {
  ensureNatsAuthority,
  ensureTrialNatsCredentials,
  NATS_AUTHORITY_KEYS,
} from './nats-credentials.js';
import { TRIAL_NATS_CREDENTIALS_KEY, trialNatsCredentialsSecretName } from './resources.js';

const api = useApiServerWithCrds();

interface Secret {
  metadata: { ownerReferences?: Array<{ kind: string; name: string; uid: string }> };
  data: Record<string, string>;
}

async function readSecret(name: string): Promise<Secret> {
  const { client, namespace } = api.server;
  return client.call<Secret>('GET', `/api/v1/namespaces/${namespace}/secrets/${name}`);
}
const entry = (secret: Secret, key: string) =>
  Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');

async function createSweep(name: string): Promise<SweepObject> {
  const { client, namespace } = api.server;
  return client.call<SweepObject>(
    'POST',
    `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/sweeps`,
    tinySweep(name),
  );
}

describe('NATS credentials in Secrets', () => {
  it('makes the authority once, a Secret per Sweep, and credentials that keep each sweep to its subjects', async () => {
    const { client, namespace } = api.server;
    const issuer = await ensureNatsAuthority(client, namespace, 'masksweep-nats-auth');
    // A second start (or a second replica) finds it and keeps it.
    expect(await ensureNatsAuthority(client, namespace, 'masksweep-nats-auth')).toEqual(issuer);
    const authority = await readSecret('masksweep-nats-auth');
    expect(Object.keys(authority.data).sort()).toEqual(Object.values(NATS_AUTHORITY_KEYS).sort());

    const alpha = await createSweep('alpha');
    const beta = await createSweep('beta');
    // The controller hands over the Sweep as validated: its uid must survive validation.
    for (const sweep of [alpha, beta]) {
      await ensureTrialNatsCredentials(client, issuer, validateSweep(sweep, { checkData: false }));
    }
    const alphaSecret = await readSecret(trialNatsCredentialsSecretName('alpha'));
    expect(alphaSecret.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Sweep', name: 'alpha', uid: alpha.metadata.uid }),
    ]);
    const alphaCreds = entry(alphaSecret, TRIAL_NATS_CREDENTIALS_KEY);
    // Again (a restarted controller): the Secret is kept, not minted anew.
    await ensureTrialNatsCredentials(client, issuer, alpha);
    expect(
      entry(await readSecret(trialNatsCredentialsSecretName('alpha')), TRIAL_NATS_CREDENTIALS_KEY),
    ).toBe(alphaCreds);

    // A nats-server configured from the authority Secret, as the chart's is.
    const dir = mkdtempSync(join(tmpdir(), 'nats-credentials-'));
    writeFileSync(join(dir, 'auth.conf'), entry(authority, NATS_AUTHORITY_KEYS.serverConfig));
    writeFileSync(join(dir, 'alpha.creds'), alphaCreds, { mode: 0o600 });
    writeFileSync(
      join(dir, 'leaderboard.creds'),
      entry(authority, NATS_AUTHORITY_KEYS.leaderboardCreds),
      { mode: 0o600 },
    );
    const nats = await startNatsServer({ args: ['--config', join(dir, 'auth.conf')] });
    const connections: NatsConnection[] = [];
    try {
      const leaderboard = await connectBus({
        servers: nats.url,
        credentials: { credsFile: join(dir, 'leaderboard.creds') },
      });
      connections.push(leaderboard);
      await ensureStream(leaderboard);
      const trial = await connectBus({
        servers: nats.url,
        credentials: { credsFile: join(dir, 'alpha.creds') },
      });
      connections.push(trial);
      const publisher = new EventPublisher({ connection: trial });
      const event = (sweep: string) => ({
        namespace,
        sweep,
        trial: `${sweep}-0`,
        attempt: 1,
        stage: Stage.STAGE_PRETRAIN,
        kind: MetricKind.METRIC_KIND_TRAIN,
        step: 0,
        epoch: 0,
        values: { loss: 0.5 },
        wallTimeMs: 1_767_225_600_000,
      });
      await publisher.publishMetric(event('alpha'));
      await expect(publisher.publishMetric(event('beta'))).rejects.toThrow(
        PublishNotPermittedError,
      );
      await publisher.close();

      // The controller reads with the credentials it holds in memory.
      const controller = await connectBus({
        servers: nats.url,
        credentials: { creds: issuer.controllerCreds },
      });
      connections.push(controller);
      const sweeps: string[] = [];
      const consumer = await consumeEvents({
        connection: controller,
        durable: 'controller-test',
        handler: async (batch) => {
          sweeps.push(...batch.map((e) => e.event.sweep));
        },
        onPoison: () => {},
      });
      await expect.poll(() => sweeps, { timeout: 10_000 }).toEqual(['alpha']);
      await consumer.stop();
    } finally {
      await Promise.all(connections.map((c) => c.close()));
      await nats.stop();
    }
  });
});
