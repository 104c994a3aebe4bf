/**
 * The controller against a real kube-apiserver (docs/kubernetes.md#the-test-api-server). The
 * harness plays the Job controller and kubelet; the workloads here are scripted by trial (exit
 * codes, OOM kills, runs that last until their Job is deleted), because these tests are about the
 * controller's bookkeeping; the trainer itself runs in paper.int.test.ts.
 */
import { type SweepSpecType, trialCrd } from '@masksweep/api';
import { tinySweepYaml } from '@masksweep/api/test-support';
import { connectBus, EventPublisher } from '@masksweep/bus';
import { MetricKind, Stage } from '@masksweep/proto';
import { type JobRunResult, startNatsServer } from '@masksweep/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type PodRun,
  playPods,
  succeed,
  useApiServerWithCrds,
  waitFor,
} from './cluster.test-support.js';
import { KubeController } from './controller.js';
import { LABELS } from './resources.js';

const api = useApiServerWithCrds();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Plays the pods of `sweep`'s Jobs with `script` and starts an in-process controller. */
async function runSweep(
  sweep: string,
  script: (run: PodRun) => Promise<JobRunResult>,
  natsUrl?: string,
): Promise<void> {
  const jobs = await playPods(api.server, sweep, script);
  const controller = new KubeController({
    client: api.server.client,
    namespace: api.server.namespace,
    jobs: { image: 'masksweep:test' },
    retryBackoffMs: 50,
    resyncMs: 2_000,
    natsUrl,
  });
  await controller.start();
  cleanups.push(async () => {
    await controller.stop();
    await jobs.stop();
  });
}

describe('KubeController', () => {
  it('runs one pre-training Job per key, then the fine-tuning Jobs, and shows the columns', async () => {
    await runSweep('shared', succeed);
    await api.cluster.apply(
      tinySweepYaml('shared', {
        seeds: [0, 1],
        augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
      }),
    );
    const sweep = await api.cluster.sweepPhase('shared', 'Succeeded');
    const trials = await api.cluster.trials('shared');
    expect(trials).toHaveLength(4);
    expect(trials.every((t) => t.status?.phase === 'Succeeded' && t.status.objective === 0.5)).toBe(
      true,
    );
    expect(new Set(trials.map((t) => t.metadata.ownerReferences?.[0]?.uid))).toEqual(
      new Set([sweep.metadata.uid]),
    );
    const jobs = await api.cluster.jobs('shared');
    const stages = jobs.map((job) => job.metadata.labels?.[LABELS.stage]);
    // One pre-training run per seed, shared by the seed's two augmentations.
    const keys = new Set(trials.map((t) => t.spec.pretrainKey));
    expect(keys.size).toBe(2);
    expect(stages.filter((s) => s === 'pretrain')).toHaveLength(keys.size);
    expect(stages.filter((s) => s === 'finetune')).toHaveLength(4);
    for (const job of jobs) {
      expect(job.spec.backoffLimit).toBe(0);
      expect(job.spec.template.spec.containers[0]?.image).toBe('masksweep:test');
    }
    expect(sweep.status).toMatchObject({
      progress: '4/4',
      trials: { total: 4, created: 4, succeeded: 4, failed: 0 },
      bestTrial: { objective: 0.5 },
      observedGeneration: sweep.metadata.generation,
    });
    expect(sweep.status?.conditions?.find((c) => c.type === 'Succeeded')?.status).toBe('True');

    const table = await api.server.kubectl(['get', 'sweeps,trials']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/NAME\s+PHASE\s+TRIALS\s+BEST\s+AGE/);
    expect(table.stdout).toMatch(/sweep\.masksweep\.io\/shared\s+Succeeded\s+4\/4\s+0\.5/);
    expect(table.stdout).toMatch(
      /NAME\s+METHOD\s+MASK\s+RATIO\s+AUGMENTATION\s+SEED\s+PHASE\s+OBJECTIVE\s+AGE/,
    );
    expect(table.stdout).toMatch(/spark\s+random\s+0\.6\s+randomFlip\s+1\s+Succeeded\s+0\.5/);

    // A second sweep with the same key reuses the run: no pre-training Job of its own.
    await api.cluster.apply(tinySweepYaml('shared-again', { seeds: [1] }));
    await runSweep('shared-again', succeed);
    await api.cluster.sweepPhase('shared-again', 'Succeeded');
    const again = await api.cluster.jobs('shared-again');
    expect(again.map((job) => job.metadata.labels?.[LABELS.stage])).toEqual(['finetune']);
  });

  it('runs SimCLR and MFF trials beside SparK: maskless Trials are accepted and listed', async () => {
    await runSweep('methods', succeed);
    await api.cluster.apply(tinySweepYaml('methods', { methods: ['spark', 'simclr', 'mff'] }));
    await api.cluster.sweepPhase('methods', 'Succeeded');
    const trials = await api.cluster.trials('methods');
    expect(trials.map((t) => t.spec.method).sort()).toEqual(['mff', 'simclr', 'spark']);
    expect(trials.every((t) => t.status?.phase === 'Succeeded')).toBe(true);
    const maskless = trials.filter((t) => t.spec.method !== 'spark');
    expect(maskless.map((t) => [t.spec.maskType, t.spec.config.mask])).toEqual([
      [undefined, null],
      [undefined, null],
    ]);
    // SimCLR and MFF pre-train their own networks: a pre-training Job for each key (SparK's
    // key may already be pre-trained in the namespace by an earlier test, and is reused).
    const jobs = await api.cluster.jobs('methods');
    const pretrained = jobs
      .filter((job) => job.metadata.labels?.[LABELS.stage] === 'pretrain')
      .map((job) => job.metadata.labels?.[LABELS.pretrainKey]);
    expect(new Set(trials.map((t) => t.spec.pretrainKey)).size).toBe(3);
    for (const t of maskless) expect(pretrained).toContain(t.spec.pretrainKey);
    const table = await api.server.kubectl(['get', 'trials', '-l', `${LABELS.sweep}=methods`]);
    expect(table.stdout).toMatch(/simclr\s+0\s+none\s+0\s+Succeeded/);
    expect(table.stdout).toMatch(/spark\s+random\s+0\.6\s+none\s+0\s+Succeeded/);
  });

  it('runs a scratch trial as one fine-tuning Job, with no key and no pre-training Job', async () => {
    await runSweep('scratch', succeed);
    await api.cluster.apply(
      tinySweepYaml('scratch', {
        methods: ['spark', 'scratch'],
        masks: [{ type: 'random', ratios: [0.5, 0.7] }],
        seeds: [3],
      }),
    );
    const sweep = await api.cluster.sweepPhase('scratch', 'Succeeded');
    const trials = await api.cluster.trials('scratch');
    // Two SparK masks, and one scratch trial: it has no mask to vary.
    expect(trials.map((t) => t.spec.method).sort()).toEqual(['scratch', 'spark', 'spark']);
    expect(trials.every((t) => t.status?.phase === 'Succeeded')).toBe(true);
    const scratch = trials.find((t) => t.spec.method === 'scratch');
    expect(scratch?.spec.pretrainKey).toBeUndefined();
    expect(scratch?.metadata.labels).not.toHaveProperty(LABELS.pretrainKey);
    expect(scratch?.status?.pretrain).toBeUndefined();
    expect(scratch?.spec.config).toMatchObject({ mask: null, pretrain: null });
    const jobs = await api.cluster.jobs('scratch');
    const ofScratch = jobs.filter(
      (job) => job.metadata.labels?.[LABELS.trial] === scratch?.metadata.name,
    );
    expect(ofScratch.map((job) => job.metadata.labels?.[LABELS.stage])).toEqual(['finetune']);
    expect(ofScratch[0]?.metadata.labels).not.toHaveProperty(LABELS.pretrainKey);
    expect(jobs.filter((job) => job.metadata.labels?.[LABELS.stage] === 'pretrain')).toHaveLength(
      2,
    );
    expect(sweep.status).toMatchObject({
      trials: { total: 3, succeeded: 3 },
      pretrainings: { total: 2, succeeded: 2 },
    });
    const table = await api.server.kubectl(['get', 'trials', '-l', `${LABELS.sweep}=scratch`]);
    expect(table.stdout).toMatch(/scratch\s+0\s+none\s+3\s+Succeeded/);
  });

  it('marks a Sweep Invalid, with no Job, when the API server refuses its Trials', async () => {
    // Trial CRDs that require maskType, as if older than the controller: a SimCLR Trial has none.
    const crd = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/trials.masksweep.io';
    const required = '/spec/versions/0/schema/openAPIV3Schema/properties/spec/required';
    // maskType is appended after the generated list, and removed from there.
    const trialSpecRequired =
      (
        trialCrd() as {
          spec: {
            versions: Array<{
              schema: { openAPIV3Schema: { properties: { spec: { required: string[] } } } };
            }>;
          };
        }
      ).spec.versions[0]?.schema.openAPIV3Schema.properties.spec.required ?? [];
    const patchRequired = (op: 'add' | 'remove') =>
      api.server.client.call(
        'PATCH',
        crd,
        [
          op === 'add'
            ? { op, path: `${required}/-`, value: 'maskType' }
            : { op, path: `${required}/${trialSpecRequired.length}` },
        ],
        { contentType: 'application/json-patch+json' },
      );
    await patchRequired('add');
    cleanups.push(async () => void (await patchRequired('remove')));
    const probe = {
      apiVersion: 'masksweep.io/v1alpha1',
      kind: 'Trial',
      metadata: { name: 'probe', namespace: api.server.namespace },
      spec: { sweep: 's', method: 'simclr', seed: 0, pretrainKey: 'p', configKey: 'c', config: {} },
    };
    // The new schema is served a moment after the CRD changes.
    await waitFor('the stricter Trial schema', async () => {
      const answer = await api.server.client.request(
        'POST',
        `/apis/masksweep.io/v1alpha1/namespaces/${api.server.namespace}/trials?dryRun=All`,
        probe,
      );
      return answer.status === 422 ? true : undefined;
    });

    await runSweep('refused', succeed);
    await api.cluster.apply(tinySweepYaml('refused', { methods: ['spark', 'simclr'] }));
    const sweep = await api.cluster.sweepPhase('refused', 'Invalid');
    const invalid = sweep.status?.conditions?.find((c) => c.type === 'Invalid');
    expect(invalid?.message).toMatch(
      /the API server refuses Trial refused-\w+ \(simclr\): .*maskType/,
    );
    expect(invalid?.message).not.toMatch(/\(spark\)/);
    expect(await api.cluster.jobs('refused')).toEqual([]);
    expect(await api.cluster.trials('refused')).toEqual([]);
  });

  it('is refused by kubectl apply for a schema error, naming the field', async () => {
    const applied = await api.server.kubectl(
      ['apply', '-f', '-'],
      tinySweepYaml('bad-schema', { parallelism: 0 }),
    );
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('spec.parallelism');
    expect((await api.server.kubectl(['get', 'sweep', 'bad-schema'])).code).not.toBe(0);
  });

  it('marks a Sweep with a semantic error Invalid, naming the field, and creates nothing', async () => {
    await runSweep('bad-mesh', succeed);
    // Mesh cannot keep 60 % of a 2x2 grid visible in one parity class: only the mask registry knows.
    await api.cluster.apply(
      tinySweepYaml('bad-mesh', { masks: [{ type: 'mesh', ratios: [0.3] }] }),
    );
    const sweep = await api.cluster.sweepPhase('bad-mesh', 'Invalid');
    const invalid = sweep.status?.conditions?.find((c) => c.type === 'Invalid');
    expect(invalid?.status).toBe('True');
    expect(invalid?.message).toContain('spec.grids[0].masks[0]');
    expect(await api.cluster.trials('bad-mesh')).toHaveLength(0);
    expect(await api.cluster.jobs('bad-mesh')).toHaveLength(0);
  });

  it('takes a search through kubectl apply (any JSON choice) and marks it Invalid: not run yet', async () => {
    await runSweep('search', succeed);
    const search = {
      parameters: [
        { path: 'finetune.lr', float: { low: 1e-5, high: 1e-2, log: true } },
        {
          path: 'model.depths',
          categorical: {
            choices: [
              [1, 1, 1, 1],
              [1, 1, 2, 1],
            ],
          },
        },
      ],
    };
    await api.cluster.apply(tinySweepYaml('search', { spec: { maxTrials: 4, search } }));
    const sweep = await api.cluster.sweepPhase('search', 'Invalid');
    const invalid = sweep.status?.conditions?.find((c) => c.type === 'Invalid');
    expect(invalid?.message).toBe('spec.search: searching is not run by this version yet');
    expect(await api.cluster.trials('search')).toHaveLength(0);
    expect(await api.cluster.jobs('search')).toHaveLength(0);
  });

  it('is refused by kubectl apply for a search the schema can judge, naming the field', async () => {
    // The API server of 1.20 names a list's items without their index.
    const search = {
      sampler: 'grid-of-my-own',
      parameters: [{ path: 'seed', int: { low: 0, high: 2_000_000_000 } }],
    };
    const applied = await api.server.kubectl(
      ['apply', '-f', '-'],
      tinySweepYaml('bad-search', { spec: { maxTrials: 4, search } }),
    );
    expect(applied.code).not.toBe(0);
    for (const field of [
      'spec.search.sampler',
      'spec.search.parameters.path',
      'spec.search.parameters.int.high',
    ])
      expect(applied.stderr).toContain(field);
    expect((await api.server.kubectl(['get', 'sweep', 'bad-search'])).code).not.toBe(0);
  });

  it('retries a trainer error up to retries, diverges without retry, retries an OOM kill', async () => {
    // Seed 0 always fails, seed 1 diverges, seed 2 is OOM-killed once.
    await runSweep('faults', async ({ stage, trial, attempt }) => {
      if (stage === 'pretrain') return succeed();
      if (trial.seed === 0) return { exitCode: 1, message: 'RangeError: the trainer broke' };
      if (trial.seed === 1) return { exitCode: 3, message: 'the loss is NaN at step 7' };
      if (attempt === 1) return { exitCode: 137, reason: 'OOMKilled' };
      return succeed();
    });
    await api.cluster.apply(tinySweepYaml('faults', { seeds: [0, 1, 2], retries: 2 }));
    await api.cluster.sweepPhase('faults', 'Succeeded');
    const trials = new Map((await api.cluster.trials('faults')).map((t) => [t.spec.seed, t]));
    const finetuneJobs = (seed: number) =>
      api.cluster
        .jobs('faults')
        .then(
          (jobs) =>
            jobs.filter(
              (job) => job.metadata.labels?.[LABELS.trial] === trials.get(seed)?.metadata.name,
            ).length,
        );

    const failed = trials.get(0)?.status;
    expect(failed?.phase).toBe('Failed');
    expect(failed?.finetuneAttempts).toBe(3);
    expect(failed?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'TrainerError',
      message: 'RangeError: the trainer broke',
    });
    expect(await finetuneJobs(0)).toBe(3);

    expect(trials.get(1)?.status?.phase).toBe('Diverged');
    expect(trials.get(1)?.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe(
      'Diverged',
    );
    expect(await finetuneJobs(1)).toBe(1);

    expect(trials.get(2)?.status?.phase).toBe('Succeeded');
    expect(await finetuneJobs(2)).toBe(2);

    const sweep = await api.cluster.sweep('faults');
    expect(sweep.status?.trials).toMatchObject({ total: 3, succeeded: 1, failed: 1, diverged: 1 });
  });

  it('retries the stage of a Job deleted behind its back', async () => {
    let firstStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      firstStarted = resolve;
    });
    await runSweep('deleted', async ({ stage, attempt, context }) => {
      if (stage === 'pretrain' || attempt > 1) return succeed();
      firstStarted();
      // Runs until the Job is deleted (the harness aborts the pod then).
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      return { exitCode: 143 };
    });
    await api.cluster.apply(tinySweepYaml('deleted'));
    await started;
    const [running] = (await api.cluster.jobs('deleted')).filter(
      (job) => job.metadata.labels?.[LABELS.stage] === 'finetune',
    );
    const deleted = await api.server.kubectl(['delete', 'job', running?.metadata.name as string]);
    expect(deleted.code).toBe(0);
    await api.cluster.sweepPhase('deleted', 'Succeeded');
    const [trial] = await api.cluster.trials('deleted');
    expect(trial?.status).toMatchObject({ phase: 'Succeeded', finetuneAttempts: 2 });
    expect(trial?.status?.conditions?.find((c) => c.type === 'Running')?.status).toBe('False');
  });

  it('fails the sweep after maxFailedTrials and stops what runs', async () => {
    await runSweep('too-many', async ({ stage, trial, context }) => {
      if (stage === 'pretrain') return succeed();
      if (trial.seed < 2) return { exitCode: 1, message: 'broken' };
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      return { exitCode: 143 };
    });
    await api.cluster.apply(
      tinySweepYaml('too-many', { seeds: [0, 1, 2], retries: 0, spec: { maxFailedTrials: 1 } }),
    );
    const sweep = await api.cluster.sweepPhase('too-many', 'Failed');
    expect(sweep.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe(
      'MaxFailedTrials',
    );
    // The running trial's Job is deleted.
    await waitFor('the running Job to be deleted', async () => {
      const jobs = await api.cluster.jobs('too-many');
      const running = jobs.filter(
        (job) => !job.status?.conditions?.some((c) => c.status === 'True'),
      );
      return running.length === 0 ? true : undefined;
    });
  });

  it('prunes from the metric stream with the median rule, as Optuna would', async () => {
    // With one trial complete before (startup 1), Optuna's median rule stops seed 1 at step
    // 10 (0.1 < 0.5) and seed 3 at step 10 (0.2 < median(0.5, 0.9)); seeds 0 and 2 complete.
    const trials = await runPrunedSweep(
      'median',
      { type: 'median', startupTrials: 1 },
      {
        0: [0.5, 0.6, 0.7],
        1: [0.1, 0.9, 0.9],
        2: [0.9, 0.9, 0.9],
        3: [0.2, 0.9, 0.9],
      },
    );
    expect(trials).toEqual({
      0: { phase: 'Succeeded' },
      1: { phase: 'Pruned', message: 'stopped by the median pruner at step 10' },
      2: { phase: 'Succeeded' },
      3: { phase: 'Pruned', message: 'stopped by the median pruner at step 10' },
    });
  });

  it('prunes from the metric stream with ASHA, as Optuna would', async () => {
    // Rungs at steps 10 and 20 (minResource 10, reductionFactor 2); a trial goes on when its
    // value is in the top half of the values reported at the rung so far, its own included
    // (the top one while fewer than 2). Step 10: seed 1 (0.1 of 0.5, 0.1) stops, seed 3
    // (0.55 of 0.5, 0.1, 0.9, 0.55: the second best) goes on; step 20: seed 3 (0.3 of 0.6,
    // 0.9, 0.3) stops. The median rule would have stopped seed 3 at step 10. (Optuna 3.1 on
    // these curves: the same steps.)
    const trials = await runPrunedSweep(
      'asha',
      { type: 'asha', minResource: 10, reductionFactor: 2 },
      {
        0: [0.5, 0.6, 0.7],
        1: [0.1, 0.9, 0.9],
        2: [0.9, 0.9, 0.9],
        3: [0.55, 0.3, 0.9],
      },
    );
    expect(trials).toEqual({
      0: { phase: 'Succeeded' },
      1: { phase: 'Pruned', message: 'stopped by the asha pruner at step 10' },
      2: { phase: 'Succeeded' },
      3: { phase: 'Pruned', message: 'stopped by the asha pruner at step 20' },
    });
  });
});

/**
 * Runs a sweep of seeds 0-3 one at a time under `pruner`; each fine-tuning pod publishes the
 * validation f1 of its seed's curve at steps 10, 20 and 30 and stops when its Job is deleted.
 * Gives each seed's phase and, when pruned, the message of its Pruned condition.
 */
async function runPrunedSweep(
  sweepName: string,
  pruner: NonNullable<SweepSpecType['pruner']>,
  curves: Record<number, number[]>,
): Promise<Record<number, { phase?: string; message?: string }>> {
  const nats = await startNatsServer();
  const connection = await connectBus({ servers: nats.url, name: 'pods' });
  const publisher = new EventPublisher({ connection });
  cleanups.push(async () => {
    await publisher.close();
    await connection.close();
    await nats.stop();
  });
  await runSweep(
    sweepName,
    async ({ stage, trial, attempt, context }) => {
      if (stage === 'pretrain') return succeed();
      for (const [index, f1] of (curves[trial.seed] ?? []).entries()) {
        await publisher.publishMetric({
          namespace: api.server.namespace,
          sweep: sweepName,
          trial: trial.name,
          attempt,
          stage: Stage.STAGE_FINETUNE,
          kind: MetricKind.METRIC_KIND_VALIDATION,
          step: 10 * (index + 1),
          epoch: index + 1,
          values: { val_f1: f1 },
          wallTimeMs: Date.now(),
        });
        // A pruned trial is stopped here: its Job is deleted. The wait leaves the controller
        // time for a pass on busy cores.
        const stopped = await Promise.race([
          new Promise((resolve) => setTimeout(() => resolve(false), 4_000)),
          new Promise((resolve) => context.signal.addEventListener('abort', () => resolve(true))),
        ]);
        if (stopped) return { exitCode: 143 };
      }
      return succeed();
    },
    nats.url,
  );
  await api.cluster.apply(
    tinySweepYaml(sweepName, { seeds: [0, 1, 2, 3], parallelism: 1, spec: { pruner } }),
  );
  const sweep = await api.cluster.sweepPhase(sweepName, 'Succeeded', 120_000);
  const counts = { succeeded: 0, pruned: 0 };
  const trials: Record<number, { phase?: string; message?: string }> = {};
  for (const t of await api.cluster.trials(sweepName)) {
    const pruned = t.status?.conditions?.find((c) => c.type === 'Pruned' && c.status === 'True');
    trials[t.spec.seed] = {
      phase: t.status?.phase,
      ...(pruned && { message: pruned.message }),
    };
    if (t.status?.phase === 'Succeeded') counts.succeeded += 1;
    if (t.status?.phase === 'Pruned') counts.pruned += 1;
  }
  expect(sweep.status?.trials).toMatchObject({ ...counts, failed: 0 });
  return trials;
}
