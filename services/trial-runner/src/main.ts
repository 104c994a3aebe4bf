import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Trial } from '@masksweep/api';
import { BACKEND_CHOICES, type BackendChoice, initBackend } from '@masksweep/models';
import { DivergedError, progressReporter, runTrial } from '@masksweep/train';
import { Command, CommanderError } from 'commander';

/** Exit codes: 0 done, 1 failed, 2 bad command line or trial file, 3 diverged (not worth a retry). */
export const EXIT = { ok: 0, failed: 1, usage: 2, diverged: 3 } as const;

class TrialFileError extends Error {}

/**
 * `masksweep-trial --config trial.json --out <dir>`: the workload of one trial, the same
 * binary locally and in a pod. Progress goes to stderr; a failure ends with one line
 * `masksweep-trial: <reason>` and a non-zero exit code.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('masksweep-trial')
    .description(
      'run one trial: pre-train (or reuse its pre-training run), fine-tune, evaluate, write result.json',
    )
    .requiredOption(
      '--config <trial.json>',
      'the trial: {name, seed, pretrainKey, config} as `masksweep validate --format json` lists it',
    )
    .requiredOption('--out <dir>', 'the trial folder: result.json, Grad-CAM images')
    .option('--artifacts <dir>', 'the shared pre-training store (default: <out>/../artifacts)')
    .option('--base-dir <dir>', "where relative dataset paths start (the Sweep file's folder)", '.')
    .option('--backend <name>', `TensorFlow.js backend: ${BACKEND_CHOICES.join(', ')}`)
    .option('--skip-pretraining', 'fine-tune from random weights (the baseline)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  const options = program.opts<{
    config: string;
    out: string;
    artifacts?: string;
    baseDir: string;
    backend?: BackendChoice;
    skipPretraining?: boolean;
  }>();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    const trial = readTrialFile(options.config);
    const backend = await initBackend({ backend: options.backend });
    log(
      `trial ${trial.name} (${trial.config.method}, seed ${trial.seed}) on ${backend.name}: ${backend.reason}`,
    );
    const outDir = resolve(options.out);
    await runTrial({
      trial,
      baseDir: resolve(options.baseDir),
      outDir,
      artifactDir: resolve(options.artifacts ?? join(dirname(outDir), 'artifacts')),
      skipPretraining: options.skipPretraining,
      onStep: progressReporter(log),
      log,
    });
    log(`wrote ${join(outDir, 'result.json')}`);
    return EXIT.ok;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`masksweep-trial: ${message.split('\n')[0]}`);
    if (error instanceof DivergedError) return EXIT.diverged;
    if (error instanceof TrialFileError) return EXIT.usage;
    if (!(error instanceof Error) || error.name === 'Error')
      log(String((error as Error).stack ?? ''));
    return EXIT.failed;
  }
}

function readTrialFile(file: string): Trial {
  let trial: Partial<Trial>;
  try {
    trial = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TrialFileError(`${file}: ${(error as Error).message}`);
  }
  for (const field of ['name', 'seed', 'pretrainKey', 'config'] as const) {
    if (trial[field] === undefined) throw new TrialFileError(`${file}: the trial has no ${field}`);
  }
  return trial as Trial;
}
