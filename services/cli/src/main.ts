import { SweepValidationError } from '@masksweep/api';
import { MaskOptionError } from '@masksweep/masks';
import { Command, CommanderError } from 'commander';
import { UsageError } from './options.js';

/**
 * Each command's module, loaded when the command runs: the services behind `run` or
 * `leaderboard` (gRPC, SQLite, TensorFlow.js) take seconds to load, which `validate` and
 * `masks` need not pay. Listed in the order of the help.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run.js')).runCommand(),
  submit: async () => (await import('./commands/submit.js')).submitCommand(),
  validate: async () => (await import('./commands/validate.js')).validateCommand(),
  masks: async () => (await import('./commands/masks.js')).masksCommand(),
  data: async () => (await import('./commands/data.js')).dataCommand(),
  train: async () => (await import('./commands/train.js')).trainCommand(),
  crds: async () => (await import('./commands/crds.js')).crdsCommand(),
  leaderboard: async () => (await import('./commands/leaderboard.js')).leaderboardCommand(),
  watch: async () => (await import('./commands/leaderboard.js')).watchCommand(),
  report: async () => (await import('./commands/leaderboard.js')).reportCommand(),
};

/** The program with every command, or only `only` when it names one (the others are not loaded). */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('masksweep')
    .description('sweeps of masked-image-modelling studies: validate, run and inspect them')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (text) => console.error(text.trimEnd()) })
    .showHelpAfterError('(add --help for usage)');
  const names =
    only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const name of names) program.addCommand(await (COMMANDS[name] as () => Promise<Command>)());
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failed, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv[0])).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      console.error(`masksweep: ${error.message}`);
      return 2;
    }
    // Known failures are one clear message; anything else keeps its stack for a bug report.
    const known =
      error instanceof SweepValidationError ||
      error instanceof MaskOptionError ||
      isUserFacing(error);
    console.error(known ? `masksweep: ${(error as Error).message}` : error);
    return 1;
  }
}

function isUserFacing(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // A gRPC answer from the leaderboard (not found, refused, unavailable) says what happened.
  if ('details' in error && 'metadata' in error) return true;
  return ['ENOENT', 'EACCES', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');
}
