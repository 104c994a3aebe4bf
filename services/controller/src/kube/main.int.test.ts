/**
 * `masksweep-controller` as a process against a real kube-apiserver: SIGKILLed at random
 * points of a sweep and restarted, and as two replicas electing a leader with a Lease.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tinySweepYaml } from '@masksweep/api/test-support';
import { Random } from '@masksweep/random';
import { afterEach, describe, expect, it } from 'vitest';
import { playPods, succeed, useApiServerWithCrds, waitFor } from './cluster.test-support.js';
import { LABELS } from './resources.js';

const BIN = fileURLToPath(new URL('../../bin/masksweep-controller.js', import.meta.url));

const api = useApiServerWithCrds();

interface ControllerProcess {
  child: ChildProcess;
  /** The JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}
const processes: ControllerProcess[] = [];
afterEach(async () => {
  for (const { child, exited } of processes.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});

function startController(args: string[] = []): ControllerProcess {
  const child = spawn(
    process.execPath,
    [
      BIN,
      ...['--kubeconfig', api.server.kubeconfigPath, '--namespace', api.server.namespace],
      ...['--image', 'masksweep:test', '--retry-backoff-ms', '50'],
      ...['--kube-request-timeout', '5'],
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs: Array<Record<string, unknown>> = [];
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const process_ = { child, logs, exited };
  processes.push(process_);
  return process_;
}

const logged = (controller: ControllerProcess, message: string, timeoutMs = 60_000) =>
  waitFor(
    `the controller to log "${message}"`,
    async () => controller.logs.find((line) => line.msg === message),
    timeoutMs,
  );

describe('masksweep-controller', () => {
  it('completes a sweep killed with SIGKILL five times: no Job twice, no trial lost or counted twice', async () => {
    const random = new Random(7);
    const runs = new Map<string, number>();
    const jobs = await playPods(api.server, 'restarts', async ({ stage, trial }) => {
      const key = stage === 'pretrain' ? `pretrain/${trial.pretrainKey}` : `finetune/${trial.name}`;
      runs.set(key, (runs.get(key) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 200 + random.int(0, 800)));
      return succeed();
    });
    try {
      await api.cluster.apply(
        tinySweepYaml('restarts', {
          seeds: [0, 1, 2, 3, 4, 5],
          augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
          parallelism: 3,
        }),
      );
      let controller = startController();
      for (let kill = 0; kill < 5; kill++) {
        await new Promise((resolve) => setTimeout(resolve, 500 + random.int(0, 2_000)));
        controller.child.kill('SIGKILL');
        await controller.exited;
        controller = startController();
      }
      const sweep = await api.cluster.sweepPhase('restarts', 'Succeeded', 120_000);
      const trials = await api.cluster.trials('restarts');
      expect(trials).toHaveLength(12);
      expect(trials.filter((t) => t.status?.phase === 'Succeeded')).toHaveLength(12);
      expect(sweep.status?.trials).toMatchObject({
        total: 12,
        created: 12,
        succeeded: 12,
        running: 0,
        pending: 0,
      });
      expect(sweep.status?.pretrainings).toEqual({ total: 6, succeeded: 6 });
      // No workload failed, so every stage ran exactly once, in exactly one Job.
      const all = await api.cluster.jobs('restarts');
      expect(all.filter((job) => job.metadata.labels?.[LABELS.stage] === 'pretrain')).toHaveLength(
        6,
      );
      expect(all.filter((job) => job.metadata.labels?.[LABELS.stage] === 'finetune')).toHaveLength(
        12,
      );
      expect(all.every((job) => job.metadata.labels?.[LABELS.attempt] === '1')).toBe(true);
      expect(runs.size).toBe(18);
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect(trials.every((t) => t.status?.finetuneAttempts === 1)).toBe(true);
      // What the controller wrote carries its name, for `kubectl get -o yaml` and audit logs.
      const managers = new Set(
        [...trials, ...all].flatMap((object) =>
          ((object.metadata as { managedFields?: { manager: string }[] }).managedFields ?? []).map(
            (entry) => entry.manager,
          ),
        ),
      );
      expect(managers.has('masksweep-controller')).toBe(true);
    } finally {
      await jobs.stop();
    }
  });

  it('reconciles in one replica of two; the other takes over the Lease when the leader is killed', async () => {
    const lease = [
      '--leader-elect',
      ...['--leader-election-namespace', api.server.namespace],
      ...['--leader-elect-lease-duration', '3', '--leader-elect-renew-deadline', '2'],
      ...['--leader-elect-retry-period', '0.5'],
      ...['--metrics-address', '127.0.0.1:0', '--health-address', '127.0.0.1:0'],
    ];
    const first = startController(lease);
    await logged(first, 'leading');
    const second = startController(lease);
    await logged(second, 'waiting for the lease');
    // One address for both: one server answers /metrics, /healthz and /readyz.
    const addresses = async (controller: typeof first) => {
      const serving = await waitFor('the server', async () =>
        controller.logs.find((line) => line.msg === 'serving'),
      );
      expect(serving.paths).toEqual(['/metrics', '/healthz', '/readyz']);
      const base = `http://${serving.address}`;
      return { metrics: `${base}/metrics`, health: base };
    };
    const [one, two] = [await addresses(first), await addresses(second)];
    const leaderGauge = async (url: string) =>
      /^masksweep_controller_leader (\d)$/m.exec(await (await fetch(url)).text())?.[1];
    expect(await leaderGauge(one.metrics)).toBe('1');
    expect(await leaderGauge(two.metrics)).toBe('0');
    for (const { health } of [one, two]) {
      expect((await fetch(`${health}/healthz`)).status).toBe(200);
      expect((await fetch(`${health}/readyz`)).status).toBe(200);
    }

    const jobs = await playPods(api.server, 'leaders', succeed);
    try {
      await api.cluster.apply(tinySweepYaml('leaders', { seeds: [0, 1] }));
      await api.cluster.sweepPhase('leaders', 'Succeeded');
      expect(second.logs.some((line) => line.msg === 'workload ended')).toBe(false);
      expect(
        /^masksweep_controller_jobs_created_total (\d+)$/m.exec(
          await (await fetch(one.metrics)).text(),
        )?.[1],
      ).toBe(String((await api.cluster.jobs('leaders')).length));

      first.child.kill('SIGKILL');
      const takenAt = Date.now();
      await logged(second, 'leading', 30_000);
      // Lease duration 3 s, on the successor's own clock.
      expect(Date.now() - takenAt).toBeLessThan(15_000);
      await api.cluster.apply(tinySweepYaml('leaders', { seeds: [0, 1, 2] }));
      await waitFor('the new generation to succeed', async () => {
        const sweep = await api.cluster.sweep('leaders');
        const current = sweep.status?.observedGeneration === sweep.metadata.generation;
        return current && sweep.status?.phase === 'Succeeded' ? sweep : undefined;
      });
      const trials = await api.cluster.trials('leaders');
      expect(trials.filter((t) => t.status?.phase === 'Succeeded')).toHaveLength(3);
    } finally {
      await jobs.stop();
    }
    // A stopped leader gives the Lease up at once.
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
