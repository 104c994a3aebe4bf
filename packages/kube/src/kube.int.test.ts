/**
 * The client, informer and leader election against a real kube-apiserver
 * (docs/kubernetes.md#the-test-api-server).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubeApiServer, startKubeApiServer } from '@masksweep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient, type KubeObject, loadKubeClient } from './client.js';
import { ConflictError, InvalidError, NotFoundError } from './errors.js';
import { Informer, type InformerEventType } from './informer.js';
import { loadKubeCredentials } from './kubeconfig.js';
import { acquireLeadership } from './leader.js';

let server: KubeApiServer;
beforeAll(async () => {
  server = await startKubeApiServer();
}, 120_000);
afterAll(() => server?.stop());

const configMaps = () => `/api/v1/namespaces/${server.namespace}/configmaps`;
const configMap = (name: string, value: string, labels = { app: 'informer-test' }) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels },
  data: { value },
});

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('KubeClient', () => {
  it('maps API answers to typed errors that name the request', async () => {
    await expect(server.client.call('GET', `${configMaps()}/missing`)).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await server.client.call('POST', configMaps(), configMap('twice', '1'));
    await expect(
      server.client.call('POST', configMaps(), configMap('twice', '1')),
    ).rejects.toBeInstanceOf(ConflictError);
    const invalid = server.client.call('POST', configMaps(), configMap('Not_A_Name', '1'));
    await expect(invalid).rejects.toBeInstanceOf(InvalidError);
    await expect(invalid).rejects.toThrow(
      /POST \/api\/v1\/namespaces\/default\/configmaps answered 422: .*Not_A_Name/,
    );
  });

  it('sends a DELETE with a body and keeps the connection usable', async () => {
    await server.client.call('POST', configMaps(), configMap('deleted', '1'));
    await server.client.call('DELETE', `${configMaps()}/deleted`, {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Background',
    });
    // The next request on the kept-alive connection would read the body as a request.
    const patched = await server.client.call<{ data: { value: string } }>(
      'PATCH',
      `${configMaps()}/twice`,
      { data: { value: '2' } },
    );
    expect(patched.data.value).toBe('2');
  });
});

describe('loadKubeClient', () => {
  it("reads the test env's kubeconfig (token, insecure) and talks to the server, as its field manager", async () => {
    const client = await loadKubeClient({
      kubeconfig: server.kubeconfigPath,
      userAgent: 'masksweep-test/1',
    });
    try {
      expect(client.namespace).toBe(server.namespace);
      const list = await client.call<{ items: unknown[] }>('GET', configMaps());
      expect(Array.isArray(list.items)).toBe(true);
      const created = await client.call<{ metadata: { managedFields: { manager: string }[] } }>(
        'POST',
        configMaps(),
        configMap('managed', '1'),
      );
      expect(created.metadata.managedFields.map((entry) => entry.manager)).toEqual([
        'masksweep-test',
      ]);
    } finally {
      client.close();
    }
  });

  it('verifies the serving certificate with a CA file and sends a token file', async () => {
    // The self-signed serving certificate is its own CA; a wrong token answers 401.
    const dir = join(server.dir, 'kubeconfig-ca');
    mkdirSync(dir);
    writeFileSync(join(dir, 'token'), 'wrong');
    const kubeconfig = {
      clusters: [
        {
          name: 'c',
          cluster: { server: server.url, 'certificate-authority': '../certs/apiserver.crt' },
        },
      ],
      users: [{ name: 'u', user: { tokenFile: 'token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    };
    writeFileSync(join(dir, 'config'), JSON.stringify(kubeconfig));
    const wrong = await loadKubeClient({ kubeconfig: join(dir, 'config') });
    expect((await wrong.request('GET', configMaps())).status).toBe(401);
    wrong.close();
    writeFileSync(join(dir, 'token'), `${server.token}\n`);
    const client = await loadKubeClient({ kubeconfig: join(dir, 'config') });
    expect((await client.request('GET', configMaps())).status).toBe(200);
    client.close();
  });

  it('runs in a pod from the service account folder', async () => {
    const serviceAccountDir = join(server.dir, 'serviceaccount');
    mkdirSync(serviceAccountDir);
    writeFileSync(join(serviceAccountDir, 'token'), server.token);
    writeFileSync(join(serviceAccountDir, 'namespace'), server.namespace);
    const certificate = readFileSync(join(server.dir, 'certs', 'apiserver.crt'));
    writeFileSync(join(serviceAccountDir, 'ca.crt'), certificate);
    const url = new URL(server.url);
    const credentials = await loadKubeCredentials({
      env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
      serviceAccountDir,
    });
    const client = createKubeClient(credentials);
    try {
      expect(client.namespace).toBe(server.namespace);
      expect((await client.request('GET', configMaps())).status).toBe(200);
    } finally {
      client.close();
    }
  });
});

describe('Informer', () => {
  it('lists page by page, then follows additions, changes and deletions', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      await server.client.call('POST', configMaps(), configMap(`listed-${name}`, name));
    await server.client.call(
      'POST',
      configMaps(),
      configMap('other', 'x', { app: 'someone-else' }),
    );
    const events: Array<[InformerEventType, string]> = [];
    const informer = new Informer<KubeObject & { data?: Record<string, string> }>({
      client: server.client,
      path: configMaps(),
      labelSelector: 'app=informer-test',
      pageSize: 2,
      onEvent: (type, object) => events.push([type, object.metadata.name]),
    });
    await informer.start();
    try {
      const listed = informer
        .list()
        .map((o) => o.metadata.name)
        .filter((name) => name.startsWith('listed-'));
      expect(listed.sort()).toEqual(['listed-a', 'listed-b', 'listed-c', 'listed-d', 'listed-e']);
      expect(informer.get(server.namespace, 'other')).toBeUndefined();
      expect(events.filter(([type]) => type === 'ADDED').length).toBeGreaterThanOrEqual(5);
      events.length = 0;

      await server.client.call('POST', configMaps(), configMap('listed-f', 'f'));
      await server.client.call('PATCH', `${configMaps()}/listed-a`, { data: { value: 'changed' } });
      await server.client.call('DELETE', `${configMaps()}/listed-b`);
      await until('the three changes', () => events.length >= 3);
      expect(events).toHaveLength(3);
      expect(events).toContainEqual(['ADDED', 'listed-f']);
      expect(events).toContainEqual(['MODIFIED', 'listed-a']);
      expect(events).toContainEqual(['DELETED', 'listed-b']);
      expect(informer.get(server.namespace, 'listed-a')?.data?.value).toBe('changed');
      expect(informer.get(server.namespace, 'listed-b')).toBeUndefined();
    } finally {
      await informer.stop();
    }
  });
});

describe('acquireLeadership', () => {
  it('lets one candidate lead; a released lease goes to the next at once', async () => {
    const options = (identity: string) => ({
      client: server.client,
      namespace: server.namespace,
      name: 'election-test',
      identity,
      leaseDurationSeconds: 30,
      retryPeriodMs: 100,
    });
    const stop = new AbortController();
    const first = await acquireLeadership(options('first'), stop.signal);
    expect(first).toBeDefined();
    let secondLeads = false;
    const second = acquireLeadership(options('second'), stop.signal).then((leadership) => {
      secondLeads = true;
      return leadership;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The lease lasts 30 s: the second waits while the first renews.
    expect(secondLeads).toBe(false);
    expect(first?.lost.aborted).toBe(false);
    await first?.release();
    const started = Date.now();
    const leadership = await second;
    expect(Date.now() - started).toBeLessThan(5_000);
    const lease = await server.client.call<{
      spec: { holderIdentity: string; leaseTransitions: number };
    }>('GET', `/apis/coordination.k8s.io/v1/namespaces/${server.namespace}/leases/election-test`);
    expect(lease.spec).toMatchObject({ holderIdentity: 'second', leaseTransitions: 1 });
    await leadership?.release();
    stop.abort();
  });
});
