import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import {
  finetuneTerminationMessage,
  hasPretraining,
  METHODS,
  TRIAL_EXIT_CODES,
  type Trial,
} from '@masksweep/api';
import { BACKEND_CHOICES, type BackendChoice, initBackend } from '@masksweep/backend';
import { busCredentialsFromEnv } from '@masksweep/bus';
import { createLogger } from '@masksweep/log';
import {
  DivergedError,
  loadTrialData,
  progressReporter,
  runPretraining,
  runTrial,
  type StepEvent,
} from '@masksweep/train';
import { Command, CommanderError, Option } from 'commander';
import { resultMetrics } from './messages.js';
import { TrialReporter } from './reporter.js';

/**
 * Exit codes (the contract with the controller, in @masksweep/api): done, failed, bad command
 * line or trial file, diverged (not worth a retry).
 */
export const EXIT = {
  ok: TRIAL_EXIT_CODES.Completed,
  failed: TRIAL_EXIT_CODES.TrainerError,
  usage: TRIAL_EXIT_CODES.InvalidTrial,
  diverged: TRIAL_EXIT_CODES.Diverged,
} as const;

class TrialFileError extends Error {}

/**
 * `masksweep-trial --config trial.json --out <dir>`: the workload of one trial, the same
 * binary locally and in a pod. Progress goes to stderr as JSON log lines (@masksweep/log)
 * naming the trial; a failure ends with an error line whose msg is the reason, and a
 * non-zero exit code.
 */
export async function main(argv: string[]): Promise<number> {
  endWithParent(process.env.MASKSWEEP_PARENT_PID);
  const program = new Command('masksweep-trial')
    .description(
      'run one trial: pre-train (or reuse its pre-training run), fine-tune, evaluate, write result.json',
    )
    .option(
      '--config <trial.json>',
      'the trial: {name, seed, pretrainKey, config} as `masksweep validate --format json` lists it (or its JSON in env MASKSWEEP_TRIAL); a scratch trial has no pretrainKey',
    )
    .requiredOption('--out <dir>', 'the trial folder: result.json, Grad-CAM images')
    .option('--artifacts <dir>', 'the shared pre-training store (default: <out>/../artifacts)')
    .option('--base-dir <dir>', "where relative dataset paths start (the Sweep file's folder)", '.')
    .option('--backend <name>', `TensorFlow.js backend: ${BACKEND_CHOICES.join(', ')}`)
    .option(
      '--skip-pretraining',
      'fine-tune from random weights (the baseline; a scratch trial always does)',
    )
    .addOption(
      new Option(
        '--stage <stage>',
        "all; pretrain: only the pre-training run of the trial's key (shared by its trials); finetune: only fine-tuning, the pre-training run being in the store (a scratch trial has only this stage)",
      )
        .choices(['all', 'pretrain', 'finetune'])
        .default('all'),
    )
    .addOption(
      new Option('--namespace <name>', "the Sweep's namespace")
        .env('MASKSWEEP_NAMESPACE')
        .default('default'),
    )
    .addOption(
      new Option('--sweep <name>', 'the Sweep (default: the trial name without its hash)').env(
        'MASKSWEEP_SWEEP',
      ),
    )
    .addOption(
      new Option('--attempt <n>', 'which attempt of the trial this is')
        .env('MASKSWEEP_ATTEMPT')
        .default('1'),
    )
    .addOption(
      new Option(
        '--nats <url>',
        'publish metric and lifecycle events to this NATS (credentials: MASKSWEEP_NATS_CREDS, or MASKSWEEP_NATS_USER and _PASSWORD)',
      ).env('MASKSWEEP_NATS_URL'),
    )
    .addOption(
      new Option('--leaderboard <host:port>', 'report the result to this leaderboard (gRPC)').env(
        'MASKSWEEP_LEADERBOARD',
      ),
    )
    .addOption(
      new Option('--leaderboard-ca <pem>', "CA of the leaderboard's TLS certificate").env(
        'MASKSWEEP_LEADERBOARD_CA',
      ),
    )
    .addOption(
      new Option('--metrics-every <steps>', 'training figures every this many steps').default('10'),
    )
    .addOption(
      new Option(
        '--termination-log <file>',
        "write how the run ended here (Kubernetes' terminationMessagePath): the validation metrics, or the error",
      ).env('MASKSWEEP_TERMINATION_LOG'),
    )
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  const options = program.opts<{
    config?: string;
    out: string;
    artifacts?: string;
    baseDir: string;
    backend?: BackendChoice;
    skipPretraining?: boolean;
    stage: 'all' | 'pretrain' | 'finetune';
    namespace: string;
    sweep?: string;
    attempt: string;
    nats?: string;
    leaderboard?: string;
    leaderboardCa?: string;
    metricsEvery: string;
    terminationLog?: string;
  }>();
  let logger = createLogger();
  const log = (line: string) => logger.info(line);
  // The kubelet keeps at most 4096 bytes of the message.
  const terminate = (message: string) => {
    if (!options.terminationLog) return;
    try {
      writeFileSync(options.terminationLog, message.slice(0, 4096));
    } catch (error) {
      logger.warn(`--termination-log: ${(error as Error).message}`);
    }
  };
  let reporter: TrialReporter | undefined;
  try {
    const trial = readTrial(options.config, process.env.MASKSWEEP_TRIAL);
    const started = performance.now();
    const attempt = {
      namespace: options.namespace,
      sweep: options.sweep ?? trial.name.replace(/-[0-9a-f]{10}$/, ''),
      trial: trial.name,
      attempt: positiveInteger('--attempt', options.attempt),
    };
    logger = logger.child(attempt);
    reporter = await TrialReporter.open({
      attempt,
      natsUrl: options.nats,
      natsCredentials: busCredentialsFromEnv(),
      leaderboard: options.leaderboard,
      // The write token comes from the environment only: command lines are visible to others.
      token: process.env.MASKSWEEP_LEADERBOARD_TOKEN,
      leaderboardCa: options.leaderboardCa ? readFileSync(options.leaderboardCa) : undefined,
      metricsEvery: positiveInteger('--metrics-every', options.metricsEvery),
      // It logs only calls it retries.
      log: (line) => logger.warn(line),
    });
    reporter.started();
    const backend = await initBackend({ backend: options.backend });
    log(
      `trial ${trial.name} (${trial.config.method}, seed ${trial.seed}) on ${backend.name}: ${backend.reason}`,
    );
    const outDir = resolve(options.out);
    const artifactDir = resolve(options.artifacts ?? join(dirname(outDir), 'artifacts'));
    const progress = progressReporter(log);
    let stage: StepEvent['stage'] | undefined;
    const onStep = (event: StepEvent) => {
      if (event.stage !== stage) {
        stage = event.stage;
        reporter?.stageChanged(stage);
      }
      progress(event);
      reporter?.onStep(event);
    };
    if (options.stage === 'pretrain') {
      if (!hasPretraining(trial))
        throw new TrialFileError(
          `trial ${trial.name}: ${trial.config.method} has no pre-training stage; run --stage finetune`,
        );
      const data = await loadTrialData(trial.config.data, resolve(options.baseDir));
      const run = await runPretraining({ trial, images: data.pretrain, artifactDir, onStep, log });
      log(`pre-training ${trial.pretrainKey} ${run.reused ? 'was' : 'is'} in ${run.weightsFile}`);
      await reporter.close();
      terminate(JSON.stringify({ pretrainKey: trial.pretrainKey, reused: run.reused }));
      return EXIT.ok;
    }
    const result = await runTrial({
      trial,
      baseDir: resolve(options.baseDir),
      outDir,
      artifactDir,
      skipPretraining: options.skipPretraining,
      requirePretrained: options.stage === 'finetune',
      onStep,
      onEpoch: (report) => reporter?.onEpoch(report),
      log,
    });
    log(`wrote ${join(outDir, 'result.json')}`);
    await reporter.finished(trial, result, {
      artifactsBase: relative(artifactDir, outDir) || '.',
      durationSeconds: (performance.now() - started) / 1000,
      // Validation chooses: the trial-runner does not know the sweep's objective, F1 it is.
      objective: result.val.metrics.f1,
    });
    await reporter.close();
    terminate(finetuneTerminationMessage(resultMetrics(result.val.metrics)));
    return EXIT.ok;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unexpected =
      !(error instanceof DivergedError || error instanceof TrialFileError) &&
      (!(error instanceof Error) || error.name === 'Error');
    // An unexpected error's stack goes on the same line: the last line tells why it ended.
    logger.error(unexpected ? { stack: (error as Error).stack } : {}, message.split('\n')[0]);
    terminate(message.split('\n')[0] ?? '');
    if (error instanceof DivergedError) {
      reporter?.diverged({ stage: error.stage, step: error.step, lr: error.learningRate, message });
    } else {
      reporter?.failed(error instanceof Error ? error.name : 'Error', message);
    }
    await reporter?.close().catch((closing: Error) => logger.error(closing.message));
    if (error instanceof DivergedError) return EXIT.diverged;
    if (error instanceof TrialFileError) return EXIT.usage;
    return EXIT.failed;
  }
}

/**
 * Ends this process by SIGTERM (an Interrupted workload) once the `masksweep run` that
 * started it (env MASKSWEEP_PARENT_PID) is gone, even killed by SIGKILL. Polling the parent
 * pid rather than watching stdin for EOF: stdio stays as it is, and the parent pid changes
 * (to init or a subreaper) exactly when the parent dies, where `kill(pid, 0)` could meet a
 * reused pid.
 */
function endWithParent(parentPid: string | undefined): void {
  if (parentPid === undefined) return;
  const parent = Number(parentPid);
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 1000).unref();
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new TrialFileError(`${flag}: must be an integer >= 1, got ${text}`);
  return value;
}

/** The trial from `--config <file>`, else from the JSON in env MASKSWEEP_TRIAL (a pod's way). */
function readTrial(file: string | undefined, json: string | undefined): Trial {
  const source = file ?? 'MASKSWEEP_TRIAL';
  if (file === undefined && json === undefined)
    throw new TrialFileError('no trial: give --config <trial.json> or env MASKSWEEP_TRIAL');
  let trial: Partial<Trial>;
  try {
    trial = JSON.parse(file === undefined ? (json as string) : readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TrialFileError(`${source}: ${(error as Error).message}`);
  }
  for (const field of ['name', 'seed', 'config'] as const) {
    if (trial[field] === undefined)
      throw new TrialFileError(`${source}: the trial has no ${field}`);
  }
  // Only a method without pre-training (scratch) comes without a key.
  const method = (trial.config as Trial['config']).method;
  if (trial.pretrainKey === undefined && METHODS[method]?.pretrains !== false)
    throw new TrialFileError(`${source}: the trial (method ${method}) has no pretrainKey`);
  // A trial listed before trials named their grids (a resumed state.json) has none.
  return { ...trial, grids: trial.grids ?? [] } as Trial;
}
