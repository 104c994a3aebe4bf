import {
  expandSweep,
  finetuneTerminationMessage,
  type KubernetesWorkloadSpec,
  type SweepObject,
  validateSweep,
} from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';
import { workload } from '../reconcile.js';
import { cachedTrial } from './cache.js';
import {
  type JobObject,
  jobEnd,
  jobName,
  jobObject,
  LABELS,
  type PodObject,
  TRIAL_NATS_CREDENTIALS_KEY,
  TRIAL_NATS_CREDENTIALS_MOUNT,
  trialNatsCredentialsSecretName,
  trialObject,
} from './resources.js';

const placed: Partial<KubernetesWorkloadSpec> = {
  gpus: 2,
  memory: '16Gi',
  nodeSelector: { accelerator: 'a100' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
};

function sweepObject(kubernetes?: Partial<KubernetesWorkloadSpec>): SweepObject {
  const resource = validateSweep(tinySweep('placed', { spec: kubernetes && { kubernetes } }), {
    checkData: false,
  });
  return {
    ...resource,
    metadata: { ...resource.metadata, namespace: 'research', uid: 'uid-1' },
  } as SweepObject;
}

describe('jobObject', () => {
  it('places the pod as the Sweep says: GPUs, memory, node selector, tolerations; the controller owns retries', () => {
    const sweep = sweepObject(placed);
    const [trial] = expandSweep(sweep as never);
    const job = jobObject(
      sweep,
      { name: 'w', stage: 'finetune', trial: trial as never, attempt: 2 },
      {
        image: 'img:1',
        leaderboardTokenSecret: { name: 'lb', key: 'token' },
        artifactsClaim: 'artifacts',
      },
    ) as JobObject & { spec: { backoffLimit: number; template: { spec: Record<string, never> } } };
    const pod = job.spec.template.spec as unknown as {
      nodeSelector: unknown;
      tolerations: unknown;
      containers: Array<{
        image: string;
        resources: unknown;
        env: Array<{ name: string; valueFrom?: unknown }>;
      }>;
      volumes: unknown;
    };
    expect(job.spec.backoffLimit).toBe(0);
    expect(pod.nodeSelector).toEqual({ accelerator: 'a100' });
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod.containers[0]?.resources).toEqual({
      limits: { 'nvidia.com/gpu': '2', memory: '16Gi' },
    });
    expect(
      pod.containers[0]?.env.find((e) => e.name === 'MASKSWEEP_LEADERBOARD_TOKEN')?.valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'lb', key: 'token' },
    });
    expect(pod.volumes).toEqual([
      { name: 'artifacts', persistentVolumeClaim: { claimName: 'artifacts' } },
    ]);
    expect(job.metadata.labels).toMatchObject({
      'masksweep.io/sweep': 'placed',
      'masksweep.io/stage': 'finetune',
      'masksweep.io/trial': trial?.name,
      'masksweep.io/attempt': '2',
    });
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Sweep',
      uid: 'uid-1',
      controller: true,
    });
  });

  it('asks for no GPU when the Sweep says 0', () => {
    const sweep = sweepObject({ gpus: 0 });
    const [trial] = expandSweep(sweep as never);
    const job = jobObject(
      sweep,
      { name: 'w', stage: 'pretrain', trial: trial as never, attempt: 1 },
      { image: 'i' },
    );
    expect(JSON.stringify(job)).not.toContain('nvidia.com/gpu');
  });

  it('runs a scratch trial as one fine-tuning Job and a Trial without a pre-training key', () => {
    const resource = validateSweep(tinySweep('placed', { methods: ['scratch'] }));
    const sweep = {
      ...resource,
      metadata: { ...resource.metadata, namespace: 'research', uid: 'uid-1' },
    } as SweepObject;
    const [trial] = expandSweep(resource);
    if (!trial) throw new Error('one scratch trial');
    const job = jobObject(sweep, workload('finetune', trial, 1), { image: 'i' }) as JobObject & {
      spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
    };
    expect(job.metadata.labels).not.toHaveProperty(LABELS.pretrainKey);
    expect(job.metadata.labels[LABELS.trial]).toBe(trial.name);
    expect(job.spec.template.spec.containers[0]?.args.slice(0, 4)).toEqual([
      '--stage',
      'finetune',
      '--out',
      `/artifacts/runs/placed/trials/${trial.name}`,
    ]);
    const object = trialObject(sweep, trial);
    expect(object.metadata.labels).not.toHaveProperty(LABELS.pretrainKey);
    expect(object.spec).not.toHaveProperty('pretrainKey');
    expect(object.spec).toMatchObject({ method: 'scratch', configKey: trial.configKey });
    expect(cachedTrial(object).spec).toEqual({});
  });

  it("mounts the Sweep's NATS credentials Secret and names the file, only when asked", () => {
    const sweep = sweepObject();
    const [trial] = expandSweep(sweep as never);
    const work = { name: 'w', stage: 'pretrain' as const, trial: trial as never, attempt: 1 };
    type PodSpec = {
      volumes: Array<{ name: string; secret?: { secretName: string } }>;
      containers: Array<{
        env: Array<{ name: string; value?: string }>;
        volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
      }>;
    };
    const podOf = (job: JobObject) => (job.spec as { template: { spec: PodSpec } }).template.spec;
    const pod = podOf(jobObject(sweep, work, { image: 'i', natsCredentials: true }));
    expect(pod.volumes).toContainEqual({
      name: 'nats-credentials',
      secret: { secretName: trialNatsCredentialsSecretName('placed') },
    });
    expect(pod.containers[0]?.volumeMounts).toContainEqual({
      name: 'nats-credentials',
      mountPath: TRIAL_NATS_CREDENTIALS_MOUNT,
      readOnly: true,
    });
    expect(pod.containers[0]?.env).toContainEqual({
      name: 'MASKSWEEP_NATS_CREDS',
      value: `${TRIAL_NATS_CREDENTIALS_MOUNT}/${TRIAL_NATS_CREDENTIALS_KEY}`,
    });
    const anonymous = JSON.stringify(jobObject(sweep, work, { image: 'i' }));
    expect(anonymous).not.toContain('nats-credentials');
    expect(anonymous).not.toContain('MASKSWEEP_NATS_CREDS');
  });

  it('names Jobs within 63 characters, distinct per stage, subject and attempt', () => {
    const [trial] = expandSweep(sweepObject() as never);
    const long = 'a'.repeat(52);
    const names = [1, 2].flatMap((attempt) =>
      (['pretrain', 'finetune'] as const).map((stage) =>
        jobName(long, { stage, trial: trial as never, attempt }),
      ),
    );
    expect(new Set(names).size).toBe(4);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(63);
  });
});

describe('jobEnd', () => {
  const job = (type: 'Complete' | 'Failed' | undefined): JobObject => ({
    metadata: { name: 'j', labels: {} },
    spec: {},
    status: type ? { conditions: [{ type, status: 'True' }] } : { active: 1 },
  });
  const pod = (status: PodObject['status']): PodObject => ({ metadata: { name: 'p' }, status });
  const terminated = (exitCode: number, reason?: string, message?: string) =>
    pod({
      phase: 'Failed',
      containerStatuses: [{ name: 'trial', state: { terminated: { exitCode, reason, message } } }],
    });

  it('is undefined while the Job runs; Completed with the validation metrics of the termination message', () => {
    expect(jobEnd(job(undefined), [])).toBeUndefined();
    const done = (message: string) =>
      pod({
        phase: 'Succeeded',
        containerStatuses: [{ name: 'trial', state: { terminated: { exitCode: 0, message } } }],
      });
    const message = finetuneTerminationMessage({ f1: 0.8, macro_f1: 0.7 });
    expect(jobEnd(job('Complete'), [done(message)])).toEqual({
      reason: 'Completed',
      message: 'completed',
      valMetrics: { f1: 0.8, macro_f1: 0.7 },
    });
    // An older trial-runner's test metrics are no objective.
    expect(jobEnd(job('Complete'), [done('{"metrics":{"f1":0.9}}')])).toEqual({
      reason: 'Completed',
      message: 'completed',
    });
  });

  it("tells the infrastructure's failures from the trainer's by the pod", () => {
    const failed = job('Failed');
    expect(
      jobEnd(failed, [pod({ phase: 'Failed', reason: 'Evicted', message: 'low on memory' })]),
    ).toEqual({
      reason: 'Interrupted',
      message: 'pod Evicted: low on memory',
    });
    expect(jobEnd(failed, [terminated(137, 'OOMKilled')])?.reason).toBe('Interrupted');
    expect(jobEnd(failed, [terminated(143, 'Error')])).toEqual({
      reason: 'Interrupted',
      message: 'killed by signal 15',
    });
    expect(jobEnd(failed, [])?.reason).toBe('Interrupted');
    expect(jobEnd(failed, [terminated(1, 'Error', 'RangeError: x')])).toEqual({
      reason: 'TrainerError',
      message: 'RangeError: x',
    });
    expect(jobEnd(failed, [terminated(2, 'Error')])?.reason).toBe('InvalidTrial');
    expect(jobEnd(failed, [terminated(3, 'Error', 'NaN at step 4')])).toEqual({
      reason: 'Diverged',
      message: 'NaN at step 4',
    });
  });
});
