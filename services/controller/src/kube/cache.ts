/**
 * What the informers' caches keep of each object: only what a pass reads. At 10,000 trials
 * the caches are most of the controller's memory, and managedFields alone would double them.
 */
import type { TrialObject } from '@masksweep/api';
import type { KubeObject } from '@masksweep/kube';
import type { CachedTrial, JobObject, PodObject } from './resources.js';

/**
 * What the cache keeps of a Trial: its name, labels, owners, pre-training key and status (its
 * config comes from the Sweep's expansion; no managedFields).
 */
export function cachedTrial(trial: TrialObject | CachedTrial): CachedTrial {
  return {
    metadata: cachedMetadata(trial.metadata),
    spec: definedKey(trial.spec.pretrainKey),
    status: trial.status,
  };
}

/** The Trial's pre-training key, if it has one (a scratch trial has none). */
function definedKey(pretrainKey: string | undefined): CachedTrial['spec'] {
  return pretrainKey === undefined ? {} : { pretrainKey };
}

/** What the cache keeps of a Job: its name, labels, owners and conditions (no spec). */
export function cachedJob(job: JobObject): JobObject {
  const conditions = job.status?.conditions;
  return {
    metadata: { ...cachedMetadata(job.metadata), labels: job.metadata.labels ?? {} },
    spec: {},
    ...(conditions && { status: { conditions } }),
  };
}

/** What the cache keeps of a Pod: its Job (label `job-name`) and how it ended (jobEnd). */
export function cachedPod(pod: PodObject): PodObject {
  const { name, namespace, resourceVersion, labels } = pod.metadata;
  const job = labels?.['job-name'];
  const status = pod.status;
  return {
    metadata: {
      name,
      namespace,
      resourceVersion,
      labels: job === undefined ? {} : { 'job-name': job },
    },
    ...(status && {
      status: {
        phase: status.phase,
        reason: status.reason,
        message: status.message,
        containerStatuses: status.containerStatuses?.map(({ name, state }) => ({
          name,
          ...(state?.terminated && {
            state: {
              terminated: {
                exitCode: state.terminated.exitCode,
                reason: state.terminated.reason,
                message: state.terminated.message,
              },
            },
          }),
        })),
      },
    }),
  };
}

function cachedMetadata(metadata: KubeObject['metadata']): KubeObject['metadata'] {
  const { name, namespace, resourceVersion, deletionTimestamp, labels, ownerReferences } = metadata;
  return { name, namespace, resourceVersion, deletionTimestamp, labels, ownerReferences };
}
