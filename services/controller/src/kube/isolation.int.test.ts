/**
 * One Sweep cannot stop the others (docs/kubernetes.md#when-a-sweep-cannot-run): a poisonous
 * Sweep applied beside a good one on a real kube-apiserver ends Invalid or Failed with its
 * reason, the good one finishes, and the one controller reconciling both keeps running.
 */
import { tinySweepYaml } from '@masksweep/api/test-support';
import type { LogLevel } from '@masksweep/log';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { playPods, succeed, useApiServerWithCrds, waitFor } from './cluster.test-support.js';
import { KubeController, type KubeControllerOptions } from './controller.js';

// A stand-in fault, for one Sweep only: its expansion throws as a bug the checks missed would
// (the fuzzing that found `masks: {constructor: 1}` found nothing else the CRDs let through).
vi.mock('../reconcile.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../reconcile.js')>();
  return {
    ...original,
    sweepTrials: (sweep: Parameters<typeof original.sweepTrials>[0]) => {
      if (sweep.metadata.name === 'throws-in-expansion')
        throw new TypeError("Cannot read properties of undefined (reading 'ratios')");
      return original.sweepTrials(sweep);
    },
  };
});

const api = useApiServerWithCrds();

const cleanups: Array<() => Promise<void>> = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One controller for the namespace, its log kept; the good Sweep's pods are played. */
async function startController(
  good: string,
  options: Partial<KubeControllerOptions> = {},
): Promise<{ controller: KubeController; logs: Array<[LogLevel, string]> }> {
  const jobs = await playPods(api.server, good, succeed);
  const logs: Array<[LogLevel, string]> = [];
  const controller = new KubeController({
    client: api.server.client,
    namespace: api.server.namespace,
    jobs: { image: 'masksweep:test' },
    retryBackoffMs: 50,
    resyncMs: 1_000,
    log: (level, message) => logs.push([level, message]),
    ...options,
  });
  await controller.start();
  cleanups.push(async () => {
    await controller.stop();
    await jobs.stop();
  });
  return { controller, logs };
}

describe('a poisonous Sweep beside a good one', () => {
  it('is Invalid when the API server refuses its Jobs, naming the field; the good one succeeds', async () => {
    // A real fault: the CRD takes any string map as nodeSelector, but a Pod's selector keys
    // must be label keys. Before the dry-run of a Job, every pass of this Sweep threw at its
    // first Job and was retried forever, and the Sweep never said why.
    const { controller } = await startController('good-beside-selector');
    const poison = tinySweepYaml('bad-selector', {
      spec: { kubernetes: { gpus: 0, nodeSelector: { 'not a label key!': 'x' } } },
    });
    await api.cluster.apply(poison);
    await api.cluster.apply(tinySweepYaml('good-beside-selector', { seeds: [0, 1] }));

    const bad = await api.cluster.sweepPhase('bad-selector', 'Invalid');
    const invalid = bad.status?.conditions?.find((c) => c.type === 'Invalid');
    expect(invalid?.status).toBe('True');
    expect(invalid?.message).toMatch(
      /the API server refuses the pretrain Job of bad-selector-\w+ \(spark\): .*nodeSelector/,
    );
    expect(invalid?.message).not.toMatch(/\n\s+at /);
    expect(await api.cluster.jobs('bad-selector')).toEqual([]);

    const good = await api.cluster.sweepPhase('good-beside-selector', 'Succeeded');
    expect(good.status?.progress).toBe('2/2');
    // The same controller still reconciles: a new generation of the good Sweep runs to the end.
    await api.cluster.apply(tinySweepYaml('good-beside-selector', { seeds: [0, 1, 2] }));
    await waitFor('the third trial of good-beside-selector', async () => {
      const sweep = await api.cluster.sweep('good-beside-selector');
      return sweep.status?.phase === 'Succeeded' && sweep.status.progress === '3/3'
        ? sweep
        : undefined;
    });
    await controller.idle();
    expect(unhandled).toEqual([]);
  });

  it('is Invalid naming the error when its expansion throws; the good one succeeds', async () => {
    const { controller, logs } = await startController('good-beside-throwing');
    await api.cluster.apply(tinySweepYaml('throws-in-expansion'));
    await api.cluster.apply(tinySweepYaml('good-beside-throwing'));
    const bad = await api.cluster.sweepPhase('throws-in-expansion', 'Invalid');
    expect(bad.status?.conditions?.find((c) => c.type === 'Invalid')?.message).toBe(
      "the controller cannot validate or expand this spec: TypeError: Cannot read properties of undefined (reading 'ratios')",
    );
    expect(await api.cluster.trials('throws-in-expansion')).toEqual([]);
    await api.cluster.sweepPhase('good-beside-throwing', 'Succeeded');
    expect(logs).toContainEqual(['error', 'validating or expanding a sweep threw']);
    await controller.idle();
    expect(unhandled).toEqual([]);
  });

  it('is Failed with the last error when its passes keep failing; it is then left alone', async () => {
    // A stand-in fault: the leaderboard refuses to register this one Sweep, so each of its
    // passes throws before any Job (the pass's own steps fail only with a broken API server).
    const registered: string[] = [];
    const { controller, logs } = await startController('good-beside-failing', {
      failSweepAfter: { passes: 3, ms: 0 },
      registerSweep: async (sweep) => {
        registered.push(sweep.metadata.name);
        if (sweep.metadata.name === 'unregistrable')
          throw new Error('leaderboard: UNAVAILABLE: no route to the store');
      },
    });
    await api.cluster.apply(tinySweepYaml('unregistrable'));
    await api.cluster.apply(tinySweepYaml('good-beside-failing'));

    const failed = await api.cluster.sweepPhase('unregistrable', 'Failed');
    const condition = failed.status?.conditions?.find((c) => c.type === 'Failed');
    expect(condition).toMatchObject({ status: 'True', reason: 'ReconcileFailed' });
    expect(condition?.message).toMatch(
      /^3 reconcile passes failed in a row over [\d.]+ min; the last: leaderboard: UNAVAILABLE: no route to the store$/,
    );
    expect(await api.cluster.jobs('unregistrable')).toEqual([]);
    await api.cluster.sweepPhase('good-beside-failing', 'Succeeded');

    // Not retried hot: resyncs (every second here) leave the Failed Sweep alone.
    const attempts = registered.filter((name) => name === 'unregistrable').length;
    expect(attempts).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(registered.filter((name) => name === 'unregistrable')).toHaveLength(attempts);
    expect((await api.cluster.sweep('unregistrable')).status?.phase).toBe('Failed');
    expect(logs).toContainEqual(['error', 'sweep failed: its passes keep failing']);
    await controller.idle();
    expect(unhandled).toEqual([]);
  });
});
