/**
 * Debian's Python, which runs the peers that check masksweep against the libraries it
 * reimplements (python3-optuna for the pruners and samplers, python3-torch for the trainer
 * benchmarks). .ci/run installs the packages; a machine without them skips those checks.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Whether Debian's Python is there and imports `module`. */
export function pythonCanImport(module: string): boolean {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
