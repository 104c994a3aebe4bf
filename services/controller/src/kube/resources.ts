/**
 * The Kubernetes objects the controller reads and writes: Sweep and Trial resources, and the
 * batch/v1 Job of one stage attempt. Names are stable (a restarted controller computes the
 * same ones, so a create that answers 409 means "already done"), and labels carry what the
 * controller needs to find an object's sweep, stage, trial or key, and attempt.
 */
import {
  API_GROUP,
  API_VERSION,
  type Condition,
  parseFinetuneTermination,
  type SweepObject,
  stableHash,
  type Trial,
  type TrialObject,
  type TrialSpecSummary,
  trialExitReason,
  trialSummary,
} from '@masksweep/api';
import { BUS_CREDENTIALS_ENV } from '@masksweep/bus';
import type { KubeObject, OwnerReference } from '@masksweep/kube';
import type { StageAttempt, Workload } from '../reconcile.js';
import type { EndReason } from '../state.js';

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  sweep: `${API_GROUP}/sweep`,
  trial: `${API_GROUP}/trial`,
  stage: `${API_GROUP}/stage`,
  pretrainKey: `${API_GROUP}/pretrain-key`,
  attempt: `${API_GROUP}/attempt`,
} as const;
export const MANAGER = 'masksweep-controller';

/** A Trial as the controller's cache keeps it: its key and status, no config (the expansion has it). */
export type CachedTrial = Omit<TrialObject, 'spec'> & {
  spec: Pick<TrialObject['spec'], 'pretrainKey'>;
};

export interface JobObject extends KubeObject {
  metadata: KubeObject['metadata'] & { labels: Record<string, string> };
  spec: Record<string, unknown>;
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    conditions?: Condition[];
  };
}

export interface PodObject extends KubeObject {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    containerStatuses?: Array<{
      name: string;
      state?: { terminated?: { exitCode: number; reason?: string; message?: string } };
    }>;
  };
}

export const paths = {
  sweeps: (namespace?: string) =>
    `/apis/${API_VERSION}${namespace ? `/namespaces/${namespace}` : ''}/sweeps`,
  trials: (namespace?: string) =>
    `/apis/${API_VERSION}${namespace ? `/namespaces/${namespace}` : ''}/trials`,
  jobs: (namespace?: string) => `/apis/batch/v1${namespace ? `/namespaces/${namespace}` : ''}/jobs`,
  pods: (namespace?: string) => `/api/v1${namespace ? `/namespaces/${namespace}` : ''}/pods`,
};

export function ownerReference(sweep: Pick<SweepObject, 'metadata'>): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: 'Sweep',
    name: sweep.metadata.name,
    uid: sweep.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * `<sweep>-pt|ft-<hash>-<attempt>`: within the 63 characters of a label value (the Job
 * controller labels its pods `job-name`), unique per sweep, stage, trial or key, and attempt.
 */
export function jobName(sweep: string, workload: StageAttempt): string {
  const subject = workload.stage === 'pretrain' ? workload.trial.pretrainKey : workload.trial.name;
  const prefix = sweep.slice(0, 40).replace(/-+$/, '');
  const stage = workload.stage === 'pretrain' ? 'pt' : 'ft';
  return `${prefix}-${stage}-${stableHash(`${sweep}/${workload.stage}/${subject}`)}-${workload.attempt}`;
}

export function trialObject(sweep: SweepObject, trial: Trial): TrialObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Trial',
    metadata: {
      name: trial.name,
      namespace: sweep.metadata.namespace,
      labels: {
        [LABELS.managedBy]: MANAGER,
        [LABELS.sweep]: sweep.metadata.name,
        ...(trial.pretrainKey !== undefined && { [LABELS.pretrainKey]: trial.pretrainKey }),
      },
      ownerReferences: [ownerReference(sweep)],
    },
    spec: { sweep: sweep.metadata.name, ...trialSpecSummary(trial), config: trial.config },
  };
}

/**
 * The trial's summary fields, without an empty mask type (SimCLR and MFF have no mask): the
 * API server of 1.20 reads an empty string as null and refuses the Trial.
 */
function trialSpecSummary(trial: Trial): TrialSpecSummary {
  const { maskType, ...rest } = trialSummary(trial);
  return { ...rest, ...(maskType && { maskType }) };
}

/** The Secret of a Sweep's trial NATS credentials (see nats-credentials.ts). */
export function trialNatsCredentialsSecretName(sweep: string): string {
  return `${sweep}-nats-credentials`;
}
export const TRIAL_NATS_CREDENTIALS_KEY = 'user.creds';
export const TRIAL_NATS_CREDENTIALS_MOUNT = '/var/run/masksweep/nats';

/** Where the trial pods find their services and volumes: the controller's settings. */
export interface JobSettings {
  /** The trial-runner image, unless the Sweep names one. */
  image: string;
  natsUrl?: string;
  /**
   * Trial pods authenticate to NATS with their Sweep's credentials Secret (which the
   * controller creates before the Sweep's first Job), mounted read-only.
   */
  natsCredentials?: boolean;
  /** host:port of the leaderboard's gRPC server. */
  leaderboard?: string;
  /** The Secret with the leaderboard's write token, and its key. */
  leaderboardTokenSecret?: { name: string; key: string };
  /** The PersistentVolumeClaim of the artifact store, mounted at /artifacts. */
  artifactsClaim?: string;
  /** The PersistentVolumeClaim of the datasets, mounted read-only at `baseDir`. */
  dataClaim?: string;
  /** Where relative dataset paths start in the pod. @default '/data' */
  baseDir?: string;
  /** The trial-runner's command. @default ['masksweep-trial'] */
  command?: string[];
  /** More environment for every trial pod (e.g. MASKSWEEP_BACKEND). */
  env?: Record<string, string>;
}

export const ARTIFACTS_MOUNT = '/artifacts';
export const TERMINATION_LOG = '/dev/termination-log';

export function jobObject(
  sweep: SweepObject,
  workload: Workload,
  settings: JobSettings,
): JobObject {
  const name = jobName(sweep.metadata.name, workload);
  const { trial } = workload;
  const workloadSpec = sweep.spec.kubernetes ?? { gpus: 1 };
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGER,
    [LABELS.sweep]: sweep.metadata.name,
    [LABELS.stage]: workload.stage,
    [LABELS.attempt]: String(workload.attempt),
    // A trial without pre-training (scratch) has no key to label its fine-tuning Job with.
    ...(trial.pretrainKey !== undefined && { [LABELS.pretrainKey]: trial.pretrainKey }),
    ...(workload.stage === 'finetune' && { [LABELS.trial]: trial.name }),
  };
  const baseDir = settings.baseDir ?? '/data';
  const outDir =
    workload.stage === 'pretrain'
      ? `${ARTIFACTS_MOUNT}/runs/${sweep.metadata.name}/pretrain/${workload.trial.pretrainKey}`
      : `${ARTIFACTS_MOUNT}/runs/${sweep.metadata.name}/trials/${trial.name}`;
  const env: Array<Record<string, unknown>> = [
    { name: 'MASKSWEEP_TRIAL', value: JSON.stringify(trial) },
    { name: 'MASKSWEEP_NAMESPACE', value: sweep.metadata.namespace ?? 'default' },
    { name: 'MASKSWEEP_SWEEP', value: sweep.metadata.name },
    { name: 'MASKSWEEP_ATTEMPT', value: String(workload.attempt) },
    { name: 'MASKSWEEP_TERMINATION_LOG', value: TERMINATION_LOG },
    ...(settings.natsUrl ? [{ name: 'MASKSWEEP_NATS_URL', value: settings.natsUrl }] : []),
    ...(settings.natsCredentials
      ? [
          {
            name: BUS_CREDENTIALS_ENV.credsFile,
            value: `${TRIAL_NATS_CREDENTIALS_MOUNT}/${TRIAL_NATS_CREDENTIALS_KEY}`,
          },
        ]
      : []),
    ...(settings.leaderboard
      ? [{ name: 'MASKSWEEP_LEADERBOARD', value: settings.leaderboard }]
      : []),
    ...(settings.leaderboardTokenSecret
      ? [
          {
            name: 'MASKSWEEP_LEADERBOARD_TOKEN',
            valueFrom: { secretKeyRef: settings.leaderboardTokenSecret },
          },
        ]
      : []),
    ...Object.entries(settings.env ?? {}).map(([key, value]) => ({ name: key, value })),
  ];
  const limits: Record<string, string> = {
    ...(workloadSpec.gpus > 0 && { 'nvidia.com/gpu': String(workloadSpec.gpus) }),
    ...(workloadSpec.cpu && { cpu: workloadSpec.cpu }),
    ...(workloadSpec.memory && { memory: workloadSpec.memory }),
  };
  const volumes: Array<Record<string, unknown>> = [];
  const volumeMounts: Array<Record<string, unknown>> = [];
  if (settings.artifactsClaim) {
    volumes.push({
      name: 'artifacts',
      persistentVolumeClaim: { claimName: settings.artifactsClaim },
    });
    volumeMounts.push({ name: 'artifacts', mountPath: ARTIFACTS_MOUNT });
  }
  if (settings.natsCredentials) {
    volumes.push({
      name: 'nats-credentials',
      secret: { secretName: trialNatsCredentialsSecretName(sweep.metadata.name) },
    });
    volumeMounts.push({
      name: 'nats-credentials',
      mountPath: TRIAL_NATS_CREDENTIALS_MOUNT,
      readOnly: true,
    });
  }
  if (settings.dataClaim) {
    volumes.push({
      name: 'data',
      persistentVolumeClaim: { claimName: settings.dataClaim, readOnly: true },
    });
    volumeMounts.push({ name: 'data', mountPath: baseDir, readOnly: true });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: sweep.metadata.namespace,
      labels,
      ownerReferences: [ownerReference(sweep)],
    },
    spec: {
      // The controller owns retries: it tells a trainer error from an eviction.
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(workloadSpec.serviceAccountName && {
            serviceAccountName: workloadSpec.serviceAccountName,
          }),
          ...(workloadSpec.nodeSelector && { nodeSelector: workloadSpec.nodeSelector }),
          ...(workloadSpec.tolerations && { tolerations: workloadSpec.tolerations }),
          containers: [
            {
              name: 'trial',
              image: workloadSpec.image ?? settings.image,
              command: settings.command ?? ['masksweep-trial'],
              args: [
                '--stage',
                workload.stage,
                '--out',
                outDir,
                '--artifacts',
                ARTIFACTS_MOUNT,
                '--base-dir',
                baseDir,
              ],
              env,
              ...(Object.keys(limits).length > 0 && { resources: { limits } }),
              volumeMounts,
              terminationMessagePath: TERMINATION_LOG,
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** How a finished Job's pod ended, in the reconcile's terms. */
export interface JobEnd {
  reason: EndReason;
  message: string;
  /**
   * The validation metrics of a finished fine-tuning, from its termination message
   * (parseFinetuneTermination of @masksweep/api).
   */
  valMetrics?: Record<string, number>;
}

/**
 * Why a Job ended, undefined while it runs. A Job never says why its pod failed, so the pod
 * does: a pod-level reason (Evicted, a lost node) or a container killed by the kernel
 * (OOMKilled, a signal) is the infrastructure's fault and Interrupted; otherwise the exit code
 * of the trainer says which failure it was.
 */
export function jobEnd(job: JobObject, pods: readonly PodObject[]): JobEnd | undefined {
  if (!jobEnded(job)) return undefined;
  const complete = jobCondition(job, 'Complete');
  const pod = pods.find((p) => p.status?.phase === (complete ? 'Succeeded' : 'Failed'));
  const terminated = pod?.status?.containerStatuses?.find((c) => c.state?.terminated)?.state
    ?.terminated;
  const termination = terminated?.message?.trim() ?? '';
  if (complete) {
    const valMetrics = parseFinetuneTermination(termination);
    return { reason: 'Completed', message: 'completed', ...(valMetrics && { valMetrics }) };
  }
  if (!pod) return { reason: 'Interrupted', message: 'the Job failed and its pod is gone' };
  if (pod.status?.reason) {
    return {
      reason: 'Interrupted',
      message: `pod ${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ''}`,
    };
  }
  if (!terminated)
    return { reason: 'Interrupted', message: 'the pod failed before its container ran' };
  if (terminated.reason === 'OOMKilled')
    return { reason: 'Interrupted', message: `OOMKilled (exit ${terminated.exitCode})` };
  // 128 + n: killed by signal n (the kubelet's stop, a node's shutdown).
  if (terminated.exitCode > 128)
    return { reason: 'Interrupted', message: `killed by signal ${terminated.exitCode - 128}` };
  return {
    reason: trialExitReason(terminated.exitCode),
    message: termination || `exited with ${terminated.exitCode}`,
  };
}

/** Whether a Job ended (its condition `Complete` or `Failed` is true), without its pods. */
export function jobEnded(job: JobObject): boolean {
  return jobCondition(job, 'Complete') || jobCondition(job, 'Failed');
}

function jobCondition(job: JobObject, type: string): boolean {
  return job.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}
