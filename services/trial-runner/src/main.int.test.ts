import '@tensorflow/tfjs-backend-cpu';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandSweep, parseFinetuneTermination, validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { connectBus, consumeEvents, type DecodedEvent, ensureStream } from '@masksweep/bus';
import { startLeaderboard } from '@masksweep/leaderboard';
import { MetricKind, Stage } from '@masksweep/proto';
import { startNatsServer } from '@masksweep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, main } from './main.js';

const sweep = validateSweep(
  tinySweep('runner', {
    splits: { train: 0.5, val: 0.25, test: 0.25 },
    masks: [{ type: 'random', ratios: [0.5] }],
    epochs: { pretrain: 2, finetune: 2 },
  }),
);
const [trial] = expandSweep(sweep);
/** A write token as long as the leaderboard asks (32 bytes in hex). */
const TOKEN = 'a1b2'.repeat(16);

let nats: Awaited<ReturnType<typeof startNatsServer>>;
beforeAll(async () => {
  nats = await startNatsServer();
  // The stream is a reader's to make (the leaderboard's, the controller's), not a trial's.
  const connection = await connectBus({ servers: nats.url });
  await ensureStream(connection);
  await connection.close();
});
afterAll(async () => {
  await nats?.stop();
});

describe('masksweep-trial with --nats', () => {
  it('publishes its lifecycle, training figures and validations, each once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runner-'));
    writeFileSync(join(root, 'trial.json'), JSON.stringify(trial));
    const code = await main([
      '--config',
      join(root, 'trial.json'),
      '--out',
      join(root, 'out'),
      '--backend',
      'cpu',
      '--namespace',
      'lab',
      '--attempt',
      '2',
      '--nats',
      nats.url,
      '--metrics-every',
      '1',
    ]);
    expect(code).toBe(EXIT.ok);

    const connection = await connectBus({ servers: nats.url });
    const events: DecodedEvent[] = [];
    const consumer = await consumeEvents({
      connection,
      durable: 'runner-test',
      handler: async (batch) => {
        events.push(...batch);
      },
      onPoison: (poison) => {
        throw poison.error;
      },
    });
    // 4 pre-training and 6 fine-tuning steps, 2 validations, 4 lifecycle events
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(4 + 6 + 2 + 4);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await consumer.stop();
    await connection.drain();
    expect(events).toHaveLength(16);

    const lifecycle = events.flatMap((e) => (e.kind === 'lifecycle' ? [e.event] : []));
    expect(lifecycle.map((e) => e.event).sort()).toEqual([
      'finished',
      'stageChanged',
      'stageChanged',
      'started',
    ]);
    // The objective it finishes with is validation F1, never test F1.
    const written = JSON.parse(readFileSync(join(root, 'out', 'result.json'), 'utf8'));
    expect(lifecycle.find((e) => e.event === 'finished')?.finished?.objective).toBe(
      written.val.metrics.f1,
    );
    const metrics = events.flatMap((e) => (e.kind === 'metric' ? [e.event] : []));
    expect(new Set(metrics.map((m) => `${m.namespace}/${m.sweep}/${m.attempt}`))).toEqual(
      new Set(['lab/runner/2']),
    );
    const validations = metrics.filter((m) => m.kind === MetricKind.METRIC_KIND_VALIDATION);
    expect(validations.map((m) => m.step).sort()).toEqual([3, 6]);
    expect(Object.keys(validations[0]?.values ?? {})).toContain('val_f1');
    const steps = (stage: number) =>
      metrics
        .filter((m) => m.stage === stage && m.kind === MetricKind.METRIC_KIND_TRAIN)
        .map((m) => m.step)
        .sort((a, b) => a - b);
    expect(steps(Stage.STAGE_PRETRAIN)).toEqual([0, 1, 2, 3]);
    expect(steps(Stage.STAGE_FINETUNE)).toEqual([0, 1, 2, 3, 4, 5]);
  }, 120_000);

  it('reports its result to the leaderboard, whose curves come from the same events', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runner-'));
    const leaderboard = await startLeaderboard({
      database: join(root, 'lb.db'),
      token: TOKEN,
      natsUrl: nats.url,
    });
    leaderboard.store.registerSweep({
      namespace: 'default',
      sweep: 'runner',
      specJson: '{}',
      trialCount: 1,
    });
    writeFileSync(join(root, 'trial.json'), JSON.stringify(trial));
    process.env.MASKSWEEP_LEADERBOARD_TOKEN = TOKEN;
    try {
      const code = await main([
        '--config',
        join(root, 'trial.json'),
        '--out',
        join(root, 'out'),
        '--backend',
        'cpu',
        '--nats',
        nats.url,
        '--leaderboard',
        `127.0.0.1:${leaderboard.grpcPort}`,
      ]);
      expect(code).toBe(EXIT.ok);
      const stored = leaderboard.store.getResult('default', trial?.name ?? '');
      const written = JSON.parse(readFileSync(join(root, 'out', 'result.json'), 'utf8'));
      expect(stored?.attempt).toBe(1);
      expect(stored?.metrics.f1).toBe(written.test.metrics.f1);
      expect(stored?.valMetrics).toMatchObject({
        f1: written.val.metrics.f1,
        macro_f1: written.val.metrics.macroF1,
      });
      // Validation metrics by the same names as the test ones (no intervals: those are test's).
      expect(Object.keys(stored?.valMetrics ?? {}).sort()).toEqual(
        Object.keys(stored?.metrics ?? {})
          .filter((name) => !name.endsWith('_ci_low') && !name.endsWith('_ci_high'))
          .sort(),
      );
      expect(stored?.confusionMatrix?.counts).toEqual(written.test.confusion.flat());
      expect(stored?.predictions).toHaveLength(written.test.predictions.length);
      expect(stored?.config?.configKey).toBe(trial?.configKey);
      await expect
        .poll(
          () =>
            leaderboard.store.metricCurve({ namespace: 'default', trial: trial?.name ?? '' })
              .length,
          { timeout: 10_000 },
        )
        .toBeGreaterThan(0);
    } finally {
      delete process.env.MASKSWEEP_LEADERBOARD_TOKEN;
      await leaderboard.close();
    }
  }, 120_000);

  it('runs the stages apart: fine-tuning alone needs the pre-training run of its key', async () => {
    const root = mkdtempSync(join(tmpdir(), 'runner-'));
    writeFileSync(join(root, 'trial.json'), JSON.stringify(trial));
    const args = (stage: string) => [
      '--config',
      join(root, 'trial.json'),
      '--out',
      join(root, 'out'),
      '--backend',
      'cpu',
      '--stage',
      stage,
    ];
    expect(await main(args('finetune'))).toBe(EXIT.failed);
    expect(existsSync(join(root, 'out', 'result.json'))).toBe(false);
    expect(await main(args('pretrain'))).toBe(EXIT.ok);
    expect(
      existsSync(join(root, 'artifacts', 'pretrain', trial?.pretrainKey ?? '', 'weights.bin')),
    ).toBe(true);
    expect(existsSync(join(root, 'out', 'result.json'))).toBe(false);
    const terminationLog = join(root, 'termination-log');
    expect(await main([...args('finetune'), '--termination-log', terminationLog])).toBe(EXIT.ok);
    const written = JSON.parse(readFileSync(join(root, 'out', 'result.json'), 'utf8'));
    expect(written.pretrain.reused).toBe(true);
    // The controller reads the validation metrics from the termination message; no test ones.
    const termination = readFileSync(terminationLog, 'utf8');
    expect(parseFinetuneTermination(termination)).toMatchObject({
      f1: written.val.metrics.f1,
      macro_f1: written.val.metrics.macroF1,
    });
    expect(termination).not.toContain('"metrics"');
  }, 120_000);

  it('runs a scratch trial as its fine-tuning alone, from random weights; it has no pre-training stage', async () => {
    const [scratch] = expandSweep(
      validateSweep(
        tinySweep('runner', {
          splits: { train: 0.5, val: 0.25, test: 0.25 },
          methods: ['scratch'],
        }),
      ),
    );
    const root = mkdtempSync(join(tmpdir(), 'runner-'));
    writeFileSync(join(root, 'trial.json'), JSON.stringify(scratch));
    const args = (stage: string) => [
      '--config',
      join(root, 'trial.json'),
      '--out',
      join(root, 'out'),
      '--backend',
      'cpu',
      '--stage',
      stage,
    ];
    expect(await main(args('pretrain'))).toBe(EXIT.usage);
    expect(await main(args('finetune'))).toBe(EXIT.ok);
    const result = JSON.parse(readFileSync(join(root, 'out', 'result.json'), 'utf8'));
    expect(result.pretrain).toMatchObject({ skipped: true, reused: false });
    expect(result.pretrainKey).toBeUndefined();
    expect(existsSync(join(root, 'artifacts', 'pretrain'))).toBe(false);

    // A method that pre-trains needs its key: a trial file without one is refused.
    const { pretrainKey: _key, ...keyless } = trial ?? {};
    writeFileSync(join(root, 'trial.json'), JSON.stringify(keyless));
    expect(await main(args('finetune'))).toBe(EXIT.usage);
  }, 120_000);
});
