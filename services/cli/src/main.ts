import { SweepValidationError } from '@masksweep/api';
import { MaskOptionError } from '@masksweep/masks';
import { Command, CommanderError } from 'commander';
import { crdsCommand } from './commands/crds.js';
import { dataCommand } from './commands/data.js';
import { leaderboardCommand, reportCommand, watchCommand } from './commands/leaderboard.js';
import { masksCommand } from './commands/masks.js';
import { runCommand } from './commands/run.js';
import { submitCommand } from './commands/submit.js';
import { trainCommand } from './commands/train.js';
import { validateCommand } from './commands/validate.js';
import { UsageError } from './options.js';

export function buildProgram(): Command {
  return new Command('masksweep')
    .description('sweeps of masked-image-modelling studies: validate, run and inspect them')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (text) => console.error(text.trimEnd()) })
    .showHelpAfterError('(add --help for usage)')
    .addCommand(runCommand())
    .addCommand(submitCommand())
    .addCommand(validateCommand())
    .addCommand(masksCommand())
    .addCommand(dataCommand())
    .addCommand(trainCommand())
    .addCommand(crdsCommand())
    .addCommand(leaderboardCommand())
    .addCommand(watchCommand())
    .addCommand(reportCommand());
}

/** Runs the CLI; returns the exit code (0 ok, 1 failed, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
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
