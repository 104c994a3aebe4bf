import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCrds, type KubeApiServer, startKubeApiServer } from './kube-apiserver.js';

// A small valid Sweep (the old examples/quick.yaml), in the namespace of the test.
const quickSweep = (name: string, grids: string) => `
apiVersion: masksweep.io/v1alpha1
kind: Sweep
metadata:
  name: ${name}
  namespace: default
spec:
  datasets:
    pretrain:
      phantom: { count: 96, seed: 1 }
    downstream:
      phantom: { count: 96, seed: 2, positiveFraction: 0.5 }
    imageSize: 64
    splits: { train: 0.6, val: 0.2, test: 0.2 }
${grids}
  seeds: [0, 1]
  model:
    convnext: { depths: [1, 1, 3, 1], widths: [32, 64, 128, 256], dropPath: 0.1, decoderWidth: 128 }
  budgets:
    pretrain: { epochs: 3, batchSize: 8, optimizer: adamw, lr: 1.0e-3, weightDecay: 0.04, warmupEpochs: 1 }
    finetune: { epochs: 3, batchSize: 8, optimizer: adamw, lr: 1.0e-3, weightDecay: 0.05, warmupEpochs: 1 }
  parallelism: 2
  retries: 1
  objective: { metric: f1, direction: maximize }
`;

const grids = (mesh: string) => `  grids:
    - methods: [spark]
      masks:
        - { type: random, ratios: [0.5, 0.7] }
        - ${mesh}
      augmentations:
        - { type: randomResizedCrop }`;

const sweepsPath = '/apis/masksweep.io/v1alpha1/namespaces/default/sweeps';

describe('startKubeApiServer', () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await startKubeApiServer();
    console.info(`kube-apiserver and etcd were ready in ${server.startupMs} ms`);
  }, 90_000);
  afterAll(() => server?.stop());

  it('serves the API to the token and to kubectl, in its namespace', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const version = await server.request<{ gitVersion: string }>('GET', '/version');
    expect(version.body.gitVersion).toBe('v1.20.2');
    const namespace = await server.kubectl(['get', 'namespace', server.namespace, '-o', 'name']);
    expect(namespace).toMatchObject({ code: 0, stdout: 'namespace/default\n' });
    // Authentication is on: a request without the token is anonymous and RBAC refuses it.
    const anonymous = await fetchStatus(`${server.url}/api/v1/namespaces`);
    expect(anonymous).toBe(403);
  });

  it('accepts the CRDs, and a valid Sweep with its defaults applied', async () => {
    expect(await applyCrds(server)).toEqual(['sweeps.masksweep.io', 'trials.masksweep.io']);

    const applied = await server.kubectl(
      ['apply', '-f', '-'],
      quickSweep('quick', grids('{ type: mesh, ratios: [0.5, 0.7] }')),
    );
    expect(applied).toMatchObject({ code: 0, stdout: 'sweep.masksweep.io/quick created\n' });
    const sweep = await server.request<{
      spec: { datasets: { resize: string }; budgets: { pretrain: { schedule: string } } };
    }>('GET', `${sweepsPath}/quick`);
    expect(sweep.status).toBe(200);
    // Defaults of the schema are filled in by the API server.
    expect(sweep.body.spec.datasets.resize).toBe('stretch');
    expect(sweep.body.spec.budgets.pretrain.schedule).toBe('cosine');
  });

  it('refuses a Sweep with an unknown mask type and a ratio above 1, naming the fields', async () => {
    const applied = await server.kubectl(
      ['apply', '-f', '-'],
      quickSweep('bad-mask', grids('{ type: hexagon, ratios: [0.5, 1.5] }')),
    );
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain('spec.grids.masks.type: Unsupported value: "hexagon"');
    expect(applied.stderr).toMatch(
      /spec\.grids\.masks\.ratios: Invalid value: 1\.5: .*less than 1/,
    );
    const found = await server.kubectl(['get', 'sweep', 'bad-mask']);
    expect(found.stderr).toContain('"bad-mask" not found');
  });

  it('refuses a Sweep without spec.grids', async () => {
    const applied = await server.kubectl(['apply', '-f', '-'], quickSweep('no-grids', ''));
    expect(applied.code).toBe(1);
    expect(applied.stderr).toMatch(/missing required field "grids"|spec\.grids: Required value/);
  });

  it('shows the printer columns and a status written through the status subresource', async () => {
    const before = await server.kubectl(['get', 'sweeps']);
    expect(before.stdout.split('\n')[0]?.split(/\s+/)).toEqual([
      'NAME',
      'PHASE',
      'TRIALS',
      'BEST',
      'AGE',
    ]);

    const patched = await server.request('PATCH', `${sweepsPath}/quick/status`, {
      status: {
        phase: 'Running',
        progress: '3/8',
        bestTrial: { name: 'quick-a1', objective: 0.91 },
      },
    });
    expect(patched.status).toBe(200);
    const after = await server.kubectl(['get', 'sweeps', 'quick', '--no-headers']);
    expect(after.stdout.split(/\s+/).slice(0, 4)).toEqual(['quick', 'Running', '3/8', '0.91']);

    // The status schema is enforced too.
    const refused = await server.request<{ message: string }>(
      'PATCH',
      `${sweepsPath}/quick/status`,
      { status: { phase: 'Exploded' } },
    );
    expect(refused.status).toBe(422);
    expect(refused.body.message).toContain('status.phase: Unsupported value: "Exploded"');
  });

  it('delivers watch events from a resourceVersion', async () => {
    const list = await server.request<{ metadata: { resourceVersion: string } }>('GET', sweepsPath);
    const abort = new AbortController();
    const events = server.watch(
      `${sweepsPath}?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`,
      abort.signal,
    );
    const deleted = await server.kubectl(['delete', 'sweep', 'quick']);
    expect(deleted.code).toBe(0);
    const first = await events.next();
    expect(first.value).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'quick' } } });
    abort.abort();
    expect((await events.next()).done).toBe(true);
  });

  it('stops etcd and the API server and removes its folder', async () => {
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
    await expect(fetch(`${server.etcdUrl}/health`)).rejects.toThrow();
    await expect(server.request('GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('startKubeApiServer without a usable binary', () => {
  it('says how to build kube-apiserver when it is missing', async () => {
    await expect(startKubeApiServer({ binary: '/nonexistent/kube-apiserver' })).rejects.toThrow(
      'kube-apiserver not found at /nonexistent/kube-apiserver (from options.binary): run ' +
        '.ci/kube-apiserver.sh to build it (about 15-20 min the first time)',
    );
  });

  it('names MASKSWEEP_KUBE_APISERVER when that is where the path came from', async () => {
    const previous = process.env.MASKSWEEP_KUBE_APISERVER;
    process.env.MASKSWEEP_KUBE_APISERVER = '/nonexistent/from-env';
    try {
      await expect(startKubeApiServer()).rejects.toThrow(
        'kube-apiserver not found at /nonexistent/from-env (from MASKSWEEP_KUBE_APISERVER)',
      );
    } finally {
      if (previous === undefined) delete process.env.MASKSWEEP_KUBE_APISERVER;
      else process.env.MASKSWEEP_KUBE_APISERVER = previous;
    }
  });

  it('reports the API server output when it cannot start', async () => {
    await expect(startKubeApiServer({ args: ['--no-such-flag'] })).rejects.toThrow(
      /kube-apiserver .* exited \(code \d+\); its last output:\n.*unknown flag: --no-such-flag/s,
    );
  });
});

/** The HTTP status of a GET without credentials (TLS verification off: self-signed). */
function fetchStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { rejectUnauthorized: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .once('error', reject)
      .end();
  });
}
