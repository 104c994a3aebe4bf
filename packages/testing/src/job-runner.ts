/**
 * Plays the Job controller and the kubelet for batch/v1 Jobs on a test API server, where
 * neither runs (docs/kubernetes.md#the-test-api-server): for each new Job it creates a Pod, runs
 * the workload through the caller's `run` (typically a local process with the Job's environment),
 * and writes the Pod's and the Job's status as Kubernetes 1.20 would.
 *
 * What a controller reads, and where (the same places as in a real cluster):
 * - The Job's `status`: `startTime` and `active: 1` when it starts; on success
 *   `succeeded: 1`, no `active`, `completionTime` and condition `Complete` True; after the
 *   last allowed failure `failed: <pods failed>`, no `active`, and condition `Failed` True
 *   with reason `BackoffLimitExceeded` and message
 *   `Job has reached the specified backoff limit` (the Job controller's own words: a Job
 *   never says why its pods failed).
 * - Why a pod failed is on the Pod (labels `job-name=<job>` and `controller-uid=<job uid>`,
 *   owner reference to the Job), phase `Failed`:
 *   - a failure of the pod as a whole: `status.reason` and `status.message`, e.g.
 *     `Evicted` (from {@link JobRunResult.podReason});
 *   - the container's end: `status.containerStatuses[*].state.terminated` with `exitCode`,
 *     and `reason` `OOMKilled` (from {@link JobRunResult.reason}), else `Error`, or
 *     `StartError` (exit code 128) when `run` threw.
 *   So a controller tells the infrastructure's failures (a pod `status.reason`, or a
 *   terminated reason such as `OOMKilled`) from the workload's own (reason `Error` with the
 *   process's exit code).
 * - Each failed pod counts against `spec.backoffLimit` (default 6), as in 1.20: the runner
 *   runs the Job again, in a new Pod, without the controller's back-off delay.
 * Not played: `activeDeadlineSeconds`, `completions`/`parallelism` other than 1 (refused,
 * see {@link JobRunner.errors}), garbage collection (except that the Pod of a Job deleted
 * while it runs is deleted, its run aborted), scheduling (Pods have no node).
 */
import type { KubeApiServer, KubeObject } from './kube-apiserver.js';

/** The fields of a batch/v1 Job the runner and its callers read. */
export interface Job extends KubeObject {
  metadata: KubeObject['metadata'] & { uid: string; namespace: string };
  spec: {
    backoffLimit?: number;
    completions?: number;
    parallelism?: number;
    template: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: { containers: Container[] } & Record<string, unknown>;
    };
  };
  status?: {
    startTime?: string;
    completionTime?: string;
    active?: number;
    succeeded?: number;
    failed?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
}

/** How one pod of a Job ended. */
export interface JobRunResult {
  exitCode: number;
  /**
   * Why the container ended, as the kubelet writes `state.terminated.reason`, e.g.
   * `OOMKilled`. @default 'Completed' for exit code 0, else 'Error'
   */
  reason?: string;
  /**
   * A failure of the whole pod, as the kubelet writes the Pod's `status.reason`, e.g.
   * `Evicted`: the pod fails whatever the exit code.
   */
  podReason?: string;
  /** The Pod's `status.message` with `podReason`, else the container's `terminated.message`. */
  message?: string;
}

export interface JobRunContext {
  /** Aborts when the Job is deleted or the runner stops: end the workload then. */
  signal: AbortSignal;
  /** 1 for the Job's first pod, 2 for the pod after one failure, ... */
  attempt: number;
  podName: string;
}

export interface RunJobsOptions {
  /** @default the server's namespace */
  namespace?: string;
  /** Only Jobs with these labels, e.g. `app=masksweep`. @default every Job */
  labelSelector?: string;
  /** Runs one pod of `job`. A throw counts as a container that could not start. */
  run: (job: Job, context: JobRunContext) => Promise<JobRunResult>;
}

export interface JobRunner {
  /** What went wrong so far: refused Jobs, API answers other than expected, watch failures. */
  readonly errors: readonly Error[];
  /** Aborts every run, waits for them, ends the watch; throws the errors if there were any. */
  stop(): Promise<void>;
}

interface Run {
  abort: AbortController;
  /** Set when the Job went away: its Pod goes too, and no status is written. */
  deleted: boolean;
  done: Promise<void>;
}

const JOB_FAILED_REASON = 'BackoffLimitExceeded';
const JOB_FAILED_MESSAGE = 'Job has reached the specified backoff limit';
/** The Job API's default of `spec.backoffLimit`. */
const DEFAULT_BACKOFF_LIMIT = 6;

/**
 * Starts playing the Job controller and kubelet for the Jobs in `namespace`; resolves once
 * the Jobs that exist now are listed (and started), then follows a watch.
 */
export async function runJobs(server: KubeApiServer, options: RunJobsOptions): Promise<JobRunner> {
  const namespace = options.namespace ?? server.namespace;
  const jobsPath = `/apis/batch/v1/namespaces/${namespace}/jobs`;
  const podsPath = `/api/v1/namespaces/${namespace}/pods`;
  const query = options.labelSelector
    ? `labelSelector=${encodeURIComponent(options.labelSelector)}`
    : '';
  const runs = new Map<string, Run>();
  const errors: Error[] = [];
  const stopping = new AbortController();

  /** Sends a request; a 404 means the object is gone (false), other failures throw. */
  const write = async (method: string, path: string, body?: unknown): Promise<boolean> => {
    const response = await server.request(method, path, body);
    if (response.status === 404) return false;
    if (response.status >= 300)
      throw new Error(
        `${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`,
      );
    return true;
  };
  const patchJobStatus = (job: Job, status: Record<string, unknown>) =>
    write('PATCH', `${jobsPath}/${job.metadata.name}/status`, { status });

  const createPod = async (job: Job): Promise<string> => {
    const template = job.spec.template;
    const response = await server.request<KubeObject>('POST', podsPath, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${job.metadata.name}-`,
        // The template's labels carry job-name and controller-uid: the API server adds them.
        labels: template.metadata?.labels,
        annotations: template.metadata?.annotations,
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: job.metadata.name,
            uid: job.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec,
    });
    if (response.status !== 201)
      throw new Error(
        `creating a Pod for Job ${namespace}/${job.metadata.name} answered ${response.status}: ` +
          JSON.stringify(response.body),
      );
    return response.body.metadata.name;
  };

  const play = async (job: Job, run: Run): Promise<void> => {
    const { signal } = run.abort;
    const containers = job.spec.template.spec.containers;
    const backoffLimit = job.spec.backoffLimit ?? DEFAULT_BACKOFF_LIMIT;
    if (!(await patchJobStatus(job, { startTime: now(), active: 1 }))) return;
    for (let attempt = 1; ; attempt++) {
      const podName = await createPod(job);
      const podStatusPath = `${podsPath}/${podName}/status`;
      const startedAt = now();
      await write('PATCH', podStatusPath, {
        status: {
          phase: 'Running',
          startTime: startedAt,
          containerStatuses: containers.map((c) =>
            containerStatus(c, { running: { startedAt } }, true),
          ),
        },
      });
      const result = signal.aborted ? undefined : await runPod(job, { signal, attempt, podName });
      if (result === undefined || signal.aborted) {
        // A deleted Job's Pod would be deleted by the garbage collector, which does not run here.
        if (run.deleted) await write('DELETE', `${podsPath}/${podName}`);
        return;
      }
      const succeeded = result.exitCode === 0 && result.podReason === undefined;
      await write('PATCH', podStatusPath, {
        status: {
          phase: succeeded ? 'Succeeded' : 'Failed',
          reason: result.podReason,
          message: result.podReason === undefined ? undefined : result.message,
          containerStatuses: containers.map((c) =>
            containerStatus(
              c,
              {
                terminated: {
                  exitCode: result.exitCode,
                  reason: result.reason ?? (result.exitCode === 0 ? 'Completed' : 'Error'),
                  message: result.podReason === undefined ? result.message : undefined,
                  startedAt,
                  finishedAt: now(),
                },
              },
              false,
            ),
          ),
        },
      });
      const failed = attempt - (succeeded ? 1 : 0);
      const at = now();
      if (succeeded) {
        await patchJobStatus(job, {
          active: null,
          succeeded: 1,
          failed: failed || undefined,
          completionTime: at,
          conditions: [
            { type: 'Complete', status: 'True', lastProbeTime: at, lastTransitionTime: at },
          ],
        });
        return;
      }
      if (failed > backoffLimit) {
        await patchJobStatus(job, {
          active: null,
          failed,
          conditions: [
            {
              type: 'Failed',
              status: 'True',
              reason: JOB_FAILED_REASON,
              message: JOB_FAILED_MESSAGE,
              lastProbeTime: at,
              lastTransitionTime: at,
            },
          ],
        });
        return;
      }
      if (!(await patchJobStatus(job, { active: 1, failed }))) return;
    }
  };

  const runPod = async (job: Job, context: JobRunContext): Promise<JobRunResult> => {
    try {
      return await options.run(job, context);
    } catch (error) {
      // The kubelet's words for a container whose process could not start.
      return { exitCode: 128, reason: 'StartError', message: (error as Error).message };
    }
  };

  const start = (job: Job) => {
    const { uid, name } = job.metadata;
    if (job.metadata.deletionTimestamp !== undefined) return end(uid);
    if (runs.has(uid) || isFinished(job)) return;
    const run: Run = { abort: new AbortController(), deleted: false, done: Promise.resolve() };
    runs.set(uid, run);
    const unsupported = (['completions', 'parallelism'] as const).find(
      (field) => (job.spec[field] ?? 1) !== 1,
    );
    if (unsupported) {
      errors.push(
        new Error(
          `Job ${namespace}/${name} has spec.${unsupported} ${job.spec[unsupported]}: the job runner plays only 1`,
        ),
      );
      return;
    }
    run.done = play(job, run).catch((error: Error) => {
      errors.push(
        new Error(`running Job ${namespace}/${name} failed: ${error.message}`, { cause: error }),
      );
    });
  };
  const end = (uid: string) => {
    const run = runs.get(uid);
    if (!run || run.abort.signal.aborted) return;
    run.deleted = true;
    run.abort.abort(new Error('the Job was deleted'));
  };

  /** Starts every listed Job, ends runs whose Job is gone; returns the list's resourceVersion. */
  const relist = async (): Promise<string> => {
    const listed = await server.request<{ items: Job[]; metadata: { resourceVersion: string } }>(
      'GET',
      `${jobsPath}?${query}`,
    );
    if (listed.status !== 200)
      throw new Error(
        `listing Jobs in ${namespace} answered ${listed.status}: ${JSON.stringify(listed.body)}`,
      );
    const present = new Set(listed.body.items.map((job) => job.metadata.uid));
    for (const uid of runs.keys()) if (!present.has(uid)) end(uid);
    for (const job of listed.body.items) start(job);
    return listed.body.metadata.resourceVersion;
  };

  const follow = async (firstVersion: string) => {
    let resourceVersion: string | undefined = firstVersion;
    while (!stopping.signal.aborted) {
      try {
        resourceVersion ??= await relist();
        const events = server.watch(
          `${jobsPath}?watch=1&allowWatchBookmarks=true&resourceVersion=${resourceVersion}&${query}`,
          stopping.signal,
        );
        for await (const event of events) {
          if (event.type === 'ERROR') {
            // 410 Gone: the version is too old to watch from; anything else is worth a note.
            if (event.object.code !== 410)
              errors.push(new Error(`watching Jobs in ${namespace}: ${event.object.message}`));
            resourceVersion = undefined;
            break;
          }
          resourceVersion = event.object.metadata.resourceVersion;
          if (event.type === 'DELETED') end(event.object.metadata.uid ?? '');
          else if (event.type !== 'BOOKMARK') start(event.object as Job);
        }
      } catch (error) {
        if (stopping.signal.aborted) return;
        errors.push(new Error(`watching Jobs in ${namespace} failed: ${(error as Error).message}`));
        resourceVersion = undefined;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };

  const following = follow(await relist());
  return {
    errors,
    async stop() {
      stopping.abort();
      for (const run of runs.values()) run.abort.abort(new Error('the job runner stopped'));
      await following;
      await Promise.all([...runs.values()].map((run) => run.done));
      if (errors.length > 0)
        throw new AggregateError(
          errors,
          `the job runner in ${namespace} had ${errors.length} error(s), the first: ${errors[0]?.message}`,
        );
    },
  };
}

function isFinished(job: Job): boolean {
  return (job.status?.conditions ?? []).some(
    (condition) =>
      (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
  );
}

function containerStatus(container: Container, state: Record<string, unknown>, running: boolean) {
  return {
    name: container.name,
    image: container.image,
    imageID: '',
    ready: running,
    started: running,
    restartCount: 0,
    state,
  };
}

/** Kubernetes timestamps: RFC 3339 in whole seconds. */
function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}
