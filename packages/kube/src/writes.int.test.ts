/** The idempotent writes against a real kube-apiserver: each may be made twice. */
import { type KubeApiServer, startKubeApiServer } from '@masksweep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from './client.js';
import { InvalidError } from './errors.js';
import { createIfAbsent, deleteIfPresent, exists, patchStatus } from './writes.js';

let server: KubeApiServer;
beforeAll(async () => {
  server = await startKubeApiServer();
}, 120_000);
afterAll(() => server?.stop());

const jobs = () => `/apis/batch/v1/namespaces/${server.namespace}/jobs`;
const job = (name: string) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name },
  spec: {
    template: {
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] },
    },
  },
});

describe('idempotent writes', () => {
  it('createIfAbsent creates once and answers undefined the second time', async () => {
    const created = await createIfAbsent<KubeObject>(server.client, jobs(), job('created'));
    expect(created?.metadata.uid).toBeTruthy();
    expect(await createIfAbsent(server.client, jobs(), job('created'))).toBeUndefined();
    // Other refusals are errors still.
    await expect(createIfAbsent(server.client, jobs(), job('Not_A_Name'))).rejects.toBeInstanceOf(
      InvalidError,
    );
  });

  it('deleteIfPresent deletes once and answers false the second time', async () => {
    await createIfAbsent(server.client, jobs(), job('deleted'));
    expect(await exists(server.client, `${jobs()}/deleted`)).toBe(true);
    expect(await deleteIfPresent(server.client, `${jobs()}/deleted`)).toBe(true);
    expect(await exists(server.client, `${jobs()}/deleted`)).toBe(false);
    expect(await deleteIfPresent(server.client, `${jobs()}/deleted`)).toBe(false);
  });

  it('patchStatus merges into the status subresource, removes null fields, and answers false for a gone object', async () => {
    await createIfAbsent(server.client, jobs(), job('patched'));
    const path = `${jobs()}/patched`;
    expect(await patchStatus(server.client, path, { active: 1, failed: 2 })).toBe(true);
    expect(await patchStatus(server.client, path, { failed: null })).toBe(true);
    const read = await server.client.call<{ status: Record<string, unknown>; spec: unknown }>(
      'GET',
      path,
    );
    expect(read.status).toEqual({ active: 1 });
    expect(await patchStatus(server.client, `${jobs()}/missing`, { active: 1 })).toBe(false);
  });
});
