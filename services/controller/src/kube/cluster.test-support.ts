/**
 * What the controller's integration tests share: a real API server with the CRDs, the
 * workloads the harness plays for a Sweep's Jobs, and reads of Sweeps, Trials and Jobs (the
 * Sweeps themselves: tinySweepYaml of @masksweep/api/test-support). Excluded from the build.
 */
import {
  finetuneTerminationMessage,
  type SweepObject,
  type Trial,
  type TrialObject,
} from '@masksweep/api';
import {
  applyCrds,
  type Job,
  type JobRunContext,
  type JobRunner,
  type JobRunResult,
  type KubeApiServer,
  runJobs,
  startKubeApiServer,
} from '@masksweep/testing';
import { afterAll, beforeAll } from 'vitest';
import { LABELS } from './resources.js';

/** One pod of a Sweep's Job, as the script sees it. */
export interface PodRun {
  job: Job;
  trial: Trial;
  stage: 'pretrain' | 'finetune';
  attempt: number;
  env: Record<string, string | undefined>;
  context: JobRunContext;
}

/** Plays the pods of `sweep`'s Jobs with `script`. */
export function playPods(
  server: KubeApiServer,
  sweep: string,
  script: (run: PodRun) => Promise<JobRunResult>,
): Promise<JobRunner> {
  return runJobs(server, {
    labelSelector: `${LABELS.sweep}=${sweep}`,
    run: (job, context) => {
      const env = Object.fromEntries(
        (job.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
      );
      return script({
        job,
        trial: JSON.parse(env.MASKSWEEP_TRIAL as string) as Trial,
        stage: job.metadata.labels?.[LABELS.stage] as 'pretrain' | 'finetune',
        attempt: Number(env.MASKSWEEP_ATTEMPT),
        env,
        context,
      });
    },
  });
}

/** A finished fine-tuning whose validation F1 is 0.5, as the trial-runner tells it. */
export const succeed = async (): Promise<JobRunResult> => ({
  exitCode: 0,
  message: finetuneTerminationMessage({ f1: 0.5 }),
});

/**
 * Starts an API server with the CRDs for the test file (before all its tests) and stops it
 * after them; the getters are valid inside tests.
 */
export function useApiServerWithCrds(): {
  readonly server: KubeApiServer;
  readonly cluster: ReturnType<typeof clusterReads>;
} {
  let server: KubeApiServer | undefined;
  let cluster: ReturnType<typeof clusterReads> | undefined;
  beforeAll(async () => {
    server = await startKubeApiServer();
    await applyCrds(server);
    cluster = clusterReads(server);
  }, 120_000);
  afterAll(() => server?.stop());
  return {
    get server() {
      if (!server) throw new Error('the API server starts in beforeAll');
      return server;
    },
    get cluster() {
      if (!cluster) throw new Error('the API server starts in beforeAll');
      return cluster;
    },
  };
}

/** Reads of one namespace's Sweeps, Trials and Jobs. */
export function clusterReads(server: KubeApiServer) {
  const base = `/apis/masksweep.io/v1alpha1/namespaces/${server.namespace}`;
  const selector = (sweep: string) =>
    `labelSelector=${encodeURIComponent(`${LABELS.sweep}=${sweep}`)}`;
  const reads = {
    sweep: (name: string) => server.client.call<SweepObject>('GET', `${base}/sweeps/${name}`),
    trials: async (sweep: string) =>
      (
        await server.client.call<{ items: TrialObject[] }>(
          'GET',
          `${base}/trials?${selector(sweep)}`,
        )
      ).items,
    jobs: async (sweep: string) =>
      (
        await server.client.call<{ items: Job[] }>(
          'GET',
          `/apis/batch/v1/namespaces/${server.namespace}/jobs?${selector(sweep)}`,
        )
      ).items,
    /** Waits until the Sweep has `phase`, and returns it. */
    sweepPhase: (name: string, phase: string, timeoutMs = 60_000) =>
      waitFor(
        `sweep ${name} to be ${phase}`,
        async () => {
          const sweep = await reads.sweep(name);
          return sweep.status?.phase === phase ? sweep : undefined;
        },
        timeoutMs,
      ),
    async apply(yaml: string): Promise<void> {
      const applied = await server.kubectl(['apply', '-f', '-'], yaml);
      if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
    },
  };
  return reads;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
