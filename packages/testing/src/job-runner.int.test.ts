import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Job, type JobRunContext, type JobRunResult, runJobs } from './job-runner.js';
import { type KubeApiServer, startKubeApiServer } from './kube-apiserver.js';

interface Pod {
  metadata: { name: string; ownerReferences: Array<{ kind: string; uid: string }> };
  status: {
    phase: string;
    reason?: string;
    message?: string;
    containerStatuses: Array<{ state: { terminated?: { exitCode: number; reason: string } } }>;
  };
}

let server: KubeApiServer;
beforeAll(async () => {
  server = await startKubeApiServer();
}, 90_000);
afterAll(() => server?.stop());

/** A Job whose container is a Node.js script; `env` becomes the container's environment. */
async function createJob(
  name: string,
  labels: Record<string, string>,
  script: string,
  options: { env?: Record<string, string>; backoffLimit?: number; completions?: number } = {},
): Promise<void> {
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      backoffLimit: options.backoffLimit ?? 0,
      completions: options.completions,
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'trial',
              image: 'masksweep/trial-runner:test',
              command: [process.execPath, '-e', script],
              env: Object.entries(options.env ?? {}).map(([key, value]) => ({ name: key, value })),
            },
          ],
        },
      },
    },
  };
  const created = await server.kubectl(['apply', '-f', '-'], JSON.stringify(job));
  expect(created.stderr).toBe('');
}

/**
 * Plays the container: runs its command with its environment as a local process, killed
 * when the signal aborts. The test's own variables KUBELET_REASON and POD_REASON stand for
 * what a real kubelet would see (an OOM kill, an eviction).
 */
function runContainer(job: Job, context: JobRunContext): Promise<JobRunResult> {
  const [container] = job.spec.template.spec.containers;
  if (!container?.command) throw new Error(`Job ${job.metadata.name} has no container command`);
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  const [command = '', ...args] = container.command;
  const child = spawn(command, args, {
    env: { ...process.env, ...env, ATTEMPT: String(context.attempt) },
    signal: context.signal,
    stdio: 'ignore',
  });
  child.on('error', () => {
    // An abort kills the process; 'close' reports how it ended.
  });
  return new Promise((resolve) =>
    child.once('close', (code, signal) =>
      resolve({
        exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15),
        reason: env.KUBELET_REASON,
        podReason: env.POD_REASON,
        message: env.MESSAGE,
      }),
    ),
  );
}

async function getJson<T>(args: string[]): Promise<T> {
  const result = await server.kubectl([...args, '-o', 'json']);
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as T;
}

const getJob = (name: string) => getJson<Job>(['get', 'job', name]);
const getPods = async (job: string) =>
  (await getJson<{ items: Pod[] }>(['get', 'pods', '-l', `job-name=${job}`])).items;

async function waitForCondition(job: string, condition: 'complete' | 'failed'): Promise<void> {
  const waited = await server.kubectl([
    'wait',
    `--for=condition=${condition}`,
    '--timeout=30s',
    `job/${job}`,
  ]);
  expect(waited.stderr).toBe('');
}

describe('runJobs', () => {
  it('runs new Jobs and writes their status as the Job controller and the kubelet would', async () => {
    const labels = { 'masksweep.io/test': 'succeeds' };
    await createJob('listed', labels, 'process.exit(Number(process.env.EXIT_CODE))', {
      env: { EXIT_CODE: '0' },
    });
    await createJob('not-selected', { 'masksweep.io/test': 'other' }, 'process.exit(0)');
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const runner = await runJobs(server, {
      labelSelector: 'masksweep.io/test=succeeds',
      async run(job, context) {
        if (job.metadata.name === 'listed') {
          started();
          await released;
        }
        return runContainer(job, context);
      },
    });
    try {
      await running;
      const active = await getJob('listed');
      expect(active.status).toMatchObject({ active: 1, startTime: expect.any(String) });
      expect(active.status?.conditions).toBeUndefined();
      expect((await getPods('listed')).map((pod) => pod.status.phase)).toEqual(['Running']);
      release();
      await waitForCondition('listed', 'complete');

      const done = await getJob('listed');
      expect(done.status?.active).toBeUndefined();
      expect(done.status).toMatchObject({ succeeded: 1, completionTime: expect.any(String) });
      expect(done.status?.failed).toBeUndefined();
      expect(done.status?.conditions).toMatchObject([{ type: 'Complete', status: 'True' }]);
      const [pod, ...others] = await getPods('listed');
      expect(others).toEqual([]);
      expect(pod?.status.phase).toBe('Succeeded');
      expect(pod?.status.containerStatuses[0]?.state.terminated).toMatchObject({
        exitCode: 0,
        reason: 'Completed',
      });
      expect(pod?.metadata.ownerReferences).toMatchObject([
        { kind: 'Job', uid: done.metadata.uid },
      ]);

      // A Job created after the list comes through the watch.
      await createJob('watched', labels, 'process.exit(0)');
      await waitForCondition('watched', 'complete');
      expect((await getJob('not-selected')).status?.startTime).toBeUndefined();
    } finally {
      await runner.stop();
    }
  });

  it('marks a Job Failed and leaves the kubelet reasons on its Pod', async () => {
    const labels = { 'masksweep.io/test': 'fails' };
    const runner = await runJobs(server, {
      labelSelector: 'masksweep.io/test=fails',
      run: runContainer,
    });
    try {
      await createJob('oom', labels, 'process.exit(137)', { env: { KUBELET_REASON: 'OOMKilled' } });
      await createJob('evicted', labels, 'process.exit(137)', {
        env: { POD_REASON: 'Evicted', MESSAGE: 'The node was low on resource: memory.' },
      });
      await createJob('crashes', labels, 'process.exit(3)');
      for (const name of ['oom', 'evicted', 'crashes']) await waitForCondition(name, 'failed');

      for (const name of ['oom', 'evicted', 'crashes']) {
        const job = await getJob(name);
        expect(job.status?.active).toBeUndefined();
        expect(job.status?.failed).toBe(1);
        expect(job.status?.conditions).toMatchObject([
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ]);
      }
      const [oom] = await getPods('oom');
      expect(oom?.status.phase).toBe('Failed');
      expect(oom?.status.reason).toBeUndefined();
      expect(oom?.status.containerStatuses[0]?.state.terminated).toMatchObject({
        exitCode: 137,
        reason: 'OOMKilled',
      });
      const [evicted] = await getPods('evicted');
      expect(evicted?.status).toMatchObject({
        phase: 'Failed',
        reason: 'Evicted',
        message: 'The node was low on resource: memory.',
      });
      const [crashed] = await getPods('crashes');
      expect(crashed?.status.containerStatuses[0]?.state.terminated).toMatchObject({
        exitCode: 3,
        reason: 'Error',
      });
    } finally {
      await runner.stop();
    }
  });

  it('runs a failed pod again while spec.backoffLimit allows', async () => {
    const labels = { 'masksweep.io/test': 'retries' };
    const runner = await runJobs(server, {
      labelSelector: 'masksweep.io/test=retries',
      run: runContainer,
    });
    try {
      await createJob('flaky', labels, "process.exit(process.env.ATTEMPT === '1' ? 1 : 0)", {
        backoffLimit: 1,
      });
      await waitForCondition('flaky', 'complete');
      expect((await getJob('flaky')).status).toMatchObject({ succeeded: 1, failed: 1 });
      const phases = (await getPods('flaky')).map((pod) => pod.status.phase).sort();
      expect(phases).toEqual(['Failed', 'Succeeded']);
    } finally {
      await runner.stop();
    }
  });

  it('aborts the run of a Job deleted while it runs, and deletes its Pod', async () => {
    const labels = { 'masksweep.io/test': 'deleted' };
    let started = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let ended: Promise<JobRunResult> | undefined;
    const runner = await runJobs(server, {
      labelSelector: 'masksweep.io/test=deleted',
      run(job, context) {
        ended = runContainer(job, context);
        started();
        return ended;
      },
    });
    try {
      await createJob('doomed', labels, 'setInterval(() => {}, 1000)');
      await running;
      const deleted = await server.kubectl(['delete', 'job', 'doomed']);
      expect(deleted.code).toBe(0);
      // The process was killed (SIGTERM, 128 + 15), not left to run for ever.
      expect(await ended).toMatchObject({ exitCode: 143 });
      await expect.poll(() => getPods('doomed'), { timeout: 10_000 }).toEqual([]);
    } finally {
      await runner.stop();
    }
  });

  it('refuses a Job with more than one completion, naming the field', async () => {
    const runner = await runJobs(server, {
      labelSelector: 'masksweep.io/test=completions',
      run: runContainer,
    });
    await createJob('twice', { 'masksweep.io/test': 'completions' }, 'process.exit(0)', {
      completions: 2,
    });
    await expect.poll(() => runner.errors.length, { timeout: 10_000 }).toBe(1);
    await expect(runner.stop()).rejects.toThrow(
      'Job default/twice has spec.completions 2: the job runner plays only 1',
    );
    expect((await getJob('twice')).status?.startTime).toBeUndefined();
  });
});
