/**
 * `masksweep submit` against a real kube-apiserver: create, update, unchanged, refusals, and
 * `--wait` following a Sweep that a real controller runs (its pods played by the harness).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finetuneTerminationMessage } from '@masksweep/api';
import { tinySweepYaml } from '@masksweep/api/test-support';
import { KubeController, LABELS } from '@masksweep/controller';
import { applyCrds, type KubeApiServer, runJobs, startKubeApiServer } from '@masksweep/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';

/** Its pre-training folder is on no machine here: submit leaves the data to the cluster. */
const sweepYaml = (name: string, parallelism = 2) =>
  tinySweepYaml(name, {
    pretrainPath: '/data/does-not-exist-here',
    augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
    parallelism,
  });

let server: KubeApiServer;
let dir: string;
beforeAll(async () => {
  server = await startKubeApiServer();
  dir = mkdtempSync(join(tmpdir(), 'submit-'));
}, 120_000);
afterAll(() => server?.stop());

let out: string[];
let errors: string[];
beforeEach(() => {
  out = [];
  errors = [];
  vi.spyOn(console, 'log').mockImplementation((...args) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const submit = (...args: string[]) =>
  main(['submit', ...args, '--kubeconfig', server.kubeconfigPath]);

describe('masksweep submit', () => {
  it('says how to install the CRDs when the cluster has none', async () => {
    expect(await submit(file('early.yaml', sweepYaml('early')))).toBe(1);
    expect(errors.join('\n')).toMatch(
      /no Sweep resource: install the CRDs first \(kubectl apply -f k8s\/crds/,
    );
  });

  it('creates, then updates, then leaves a Sweep as it is, as kubectl apply', async () => {
    await applyCrds(server);
    const path = file('first.yaml', sweepYaml('first'));
    expect(await submit(path)).toBe(0);
    expect(await submit(path)).toBe(0);
    expect(await submit(file('first.yaml', sweepYaml('first', 3)))).toBe(0);
    expect(out).toEqual([
      'sweep.masksweep.io/first created in namespace default',
      'sweep.masksweep.io/first unchanged in namespace default',
      'sweep.masksweep.io/first configured in namespace default',
    ]);
    const stored = await server.kubectl([
      'get',
      'sweep',
      'first',
      '-o',
      'jsonpath={.spec.parallelism} {.metadata.generation}',
    ]);
    expect(stored.stdout).toBe('3 2');
  });

  it('refuses a bad Sweep before it reaches the cluster, naming the line and field', async () => {
    const path = file('bad.yaml', sweepYaml('bad', -1));
    expect(await submit(path)).toBe(1);
    expect(errors.join('\n')).toMatch(/bad\.yaml:\d+:\d+: spec\.parallelism/);
    expect((await server.kubectl(['get', 'sweep', 'bad'])).code).not.toBe(0);
  });

  it('follows the Sweep with --wait until it succeeds', async () => {
    await applyCrds(server);
    const pods = await runJobs(server, {
      labelSelector: `${LABELS.sweep}=waited`,
      run: async () => ({ exitCode: 0, message: finetuneTerminationMessage({ f1: 0.75 }) }),
    });
    const controller = new KubeController({
      client: server.client,
      namespace: server.namespace,
      jobs: { image: 'masksweep:test' },
    });
    await controller.start();
    try {
      expect(
        await submit(file('waited.yaml', sweepYaml('waited')), '--wait', '--timeout', '120'),
      ).toBe(0);
    } finally {
      await controller.stop();
      await pods.stop();
    }
    expect(out[0]).toBe('sweep.masksweep.io/waited created in namespace default');
    expect(out.at(-1)).toMatch(
      /^sweep waited: Succeeded 2\/2 trials succeeded, 0 running, 0 failed, best waited-[0-9a-f]{10} \(validation 0\.7500\)$/,
    );
  });
});
