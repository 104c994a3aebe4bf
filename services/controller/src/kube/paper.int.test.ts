/**
 * The paper's Sweep (k8s/examples/paper.yaml), scaled down to tiny trials, end to end on a
 * real kube-apiserver: `kubectl apply`, the controller, the real trial-runner in each Job's
 * pod (the harness runs the container as a local process, as a kubelet would), and the
 * leaderboard over gRPC.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandSweep, validateSweep } from '@masksweep/api';
import { type Leaderboard, startLeaderboard } from '@masksweep/leaderboard';
import { applyCrds, type KubeApiServer, runJobs, startKubeApiServer } from '@masksweep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { clusterReads } from './cluster.test-support.js';
import { runContainerAsProcess } from './container.test-support.js';
import { KubeController } from './controller.js';
import { leaderboardRegistrar } from './leaderboard-registration.js';
import { ARTIFACTS_MOUNT, LABELS } from './resources.js';

const REPOSITORY = fileURLToPath(new URL('../../../../', import.meta.url));
const PAPER = join(REPOSITORY, 'k8s/examples/paper.yaml');
const TRIAL_RUNNER = join(REPOSITORY, 'services/trial-runner/bin/masksweep-trial.js');
const DATA_MOUNT = '/data';
const TOKEN = 'paper-test-write-token-of-at-least-43-characters';

let server: KubeApiServer;
let leaderboard: Leaderboard;
let workDir: string;
beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'masksweep-paper-'));
  server = await startKubeApiServer();
  await applyCrds(server);
  leaderboard = await startLeaderboard({ database: join(workDir, 'leaderboard.db'), token: TOKEN });
}, 120_000);
afterAll(async () => {
  await leaderboard?.close();
  await server?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/**
 * paper.yaml with budgets and a model that train in seconds, SparK and scratch only (SimCLR's
 * and MFF's networks train in their own tests), and two of its grids cut down so that keys are
 * both shared and distinct, and one trial has none.
 */
function scaledDownPaper(): { sweep: Record<string, unknown>; phantoms: boolean } {
  const sweep = parse(readFileSync(PAPER, 'utf8'));
  const { spec } = sweep;
  const phantoms = !existsSync(join(dirname(PAPER), spec.datasets.pretrain.path));
  // The CT images when they are beside the repository (../shared/data), else phantoms.
  if (phantoms) {
    spec.datasets.pretrain = { phantom: { count: 16, seed: 1 } };
    // 20 phantom patients of 4 slices: the 10 % test split holds two of them.
    spec.datasets.downstream = { phantom: { count: 80, seed: 2 } };
  }
  spec.datasets.imageSize = 64;
  spec.grids = [
    {
      ...spec.grids[0],
      methods: ['spark'],
      augmentations: [{ type: 'none' }, { type: 'randomFlip', p: 0.5 }],
    },
    { ...spec.grids[1], masks: [{ type: 'mesh', ratios: [0.5] }] },
  ];
  spec.model = {
    convnext: { depths: [1, 1, 1, 1], widths: [8, 16, 32, 64], dropPath: 0, decoderWidth: 32 },
  };
  const stage = {
    epochs: 1,
    batchSize: 8,
    optimizer: 'adamw',
    lr: 1e-3,
    weightDecay: 0.04,
    warmupEpochs: 0,
  };
  spec.budgets = { pretrain: stage, finetune: stage };
  spec.parallelism = 2;
  spec.seeds = [0];
  return { sweep, phantoms };
}

describe('the paper Sweep on Kubernetes, scaled down', () => {
  it('runs one Job per pre-training key, then the fine-tuning Jobs, and every result reaches the leaderboard', async () => {
    const { sweep } = scaledDownPaper();
    const expected = expandSweep(
      validateSweep(sweep, { baseDir: dirname(PAPER), checkData: false }),
    );
    const keys = new Set(expected.flatMap((trial) => trial.pretrainKey ?? []));
    // randomFlip and none share the random 60 % key; mesh 50 % has a key of its own; the
    // scratch trial of Tables 5-8's grid (RandomResizedCrop) has none.
    expect(expected.map((trial) => trial.config.method)).toEqual([
      'spark',
      'spark',
      'spark',
      'scratch',
    ]);
    expect(keys.size).toBe(2);

    const secret = await server.kubectl([
      'create',
      'secret',
      'generic',
      'leaderboard-token',
      `--from-literal=token=${TOKEN}`,
    ]);
    expect(secret.code).toBe(0);
    const artifacts = join(workDir, 'artifacts');
    const pods = await runJobs(server, {
      labelSelector: `${LABELS.sweep}=paper`,
      run: (job, context) =>
        runContainerAsProcess(job, context, {
          server,
          command: [process.execPath, TRIAL_RUNNER],
          mounts: { [ARTIFACTS_MOUNT]: artifacts, [DATA_MOUNT]: dirname(PAPER) },
          scratchDir: join(workDir, 'pods'),
          env: { MASKSWEEP_BACKEND: 'wasm' },
        }),
    });
    const registrar = leaderboardRegistrar(`127.0.0.1:${leaderboard.grpcPort}`, TOKEN);
    const controller = new KubeController({
      client: server.client,
      namespace: server.namespace,
      jobs: {
        image: 'masksweep:test',
        leaderboard: `127.0.0.1:${leaderboard.grpcPort}`,
        leaderboardTokenSecret: { name: 'leaderboard-token', key: 'token' },
        artifactsClaim: 'masksweep-artifacts',
        baseDir: DATA_MOUNT,
      },
      registerSweep: registrar.register,
    });
    await controller.start();
    const cluster = clusterReads(server);
    try {
      await cluster.apply(stringify(sweep));
      const done = await cluster.sweepPhase('paper', 'Succeeded', 600_000);
      const trials = await cluster.trials('paper');
      // Phase and message together: a failure shows the trainer's reason.
      expect(
        trials
          .map((t) => `${t.metadata.name} ${t.status?.phase} ${t.status?.message ?? ''}`)
          .sort(),
      ).toEqual(expected.map((t) => `${t.name} Succeeded `).sort());
      expect(done.status?.trials).toMatchObject({ total: 4, succeeded: 4, failed: 0 });
      const jobs = await cluster.jobs('paper');
      expect(jobs.filter((job) => job.metadata.labels?.[LABELS.stage] === 'pretrain')).toHaveLength(
        keys.size,
      );
      expect(jobs.filter((job) => job.metadata.labels?.[LABELS.stage] === 'finetune')).toHaveLength(
        4,
      );
      const results = leaderboard.store.listResults({
        namespace: server.namespace,
        sweep: 'paper',
      });
      expect(results.totalCount).toBe(4);
      expect(new Set(results.results.map((r) => r.trial))).toEqual(
        new Set(expected.map((t) => t.name)),
      );
      // The objective on each Trial is the validation F1 the trainer reported.
      for (const result of results.results) {
        const trial = trials.find((t) => t.metadata.name === result.trial);
        expect(trial?.status?.objective).toBeCloseTo(result.valMetrics.f1 as number, 10);
      }
    } finally {
      await controller.stop();
      await pods.stop();
      registrar.close();
    }
  }, 900_000);
});
