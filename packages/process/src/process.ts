/**
 * Server processes this process starts (nats-server for `masksweep run`, the test
 * harness's servers): found on PATH, started until ready, ended, never left behind (not
 * even by a process killed with SIGKILL).
 */
import { type ChildProcess, type IOType, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The last bytes of a server's output kept for error messages. */
const OUTPUT_TAIL_BYTES = 8192;

// Servers and temporary folders still alive when this process exits.
const running = new Set<ChildProcess>();
const temporaryDirs = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

/** A folder removed when the process exits, unless removeTemporaryDir came first. */
export function trackTemporaryDir(dir: string): string {
  temporaryDirs.add(dir);
  return dir;
}

export function removeTemporaryDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  temporaryDirs.delete(dir);
}

/**
 * A path of `binary`: itself when it has a slash, else the first match on PATH or in
 * `extraDirs`; an error saying `howToInstall` otherwise.
 */
export function findExecutable(
  binary: string,
  howToInstall: string,
  extraDirs: string[] = [],
): string {
  const dirs = binary.includes('/')
    ? ['']
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = dir ? join(dir, binary) : binary;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next folder
    }
  }
  throw new Error(`${binary} not found on PATH: ${howToInstall}`);
}

/**
 * Runs `$0 "$@"` so that it ends with the process that started it, even one killed by
 * SIGKILL (which runs no exit hook): a background subshell reads stdin, a pipe from the
 * parent, until EOF, when the parent is gone, then sends SIGTERM to `$$`, the pid `exec`
 * hands to the server, which keeps the pid, signals, exit code and output of a direct spawn.
 * Stdin is read through fd 3 because a background list gets /dev/null as its stdin. (EOF
 * also comes after the server ended by itself: the SIGTERM then meets a pid freed moments
 * before, too soon to have been reused.)
 */
const ENDS_WITH_PARENT = [
  'exec 3<&0',
  '( while read -r _ <&3; do :; done; kill -TERM $$ ) >/dev/null 2>&1 &',
  'exec "$0" "$@" 3<&-',
].join('\n');

/**
 * Spawns `binary` with `args` so that it ends when this process ends, however it ends
 * (see ENDS_WITH_PARENT); stdin must stay a pipe, it is the parent's life line.
 */
export function spawnEndingWithParent(
  binary: string,
  args: string[],
  options: SpawnOptions & { stdio: ['pipe', IOType, IOType] },
): ChildProcess {
  return spawn('/bin/sh', ['-c', ENDS_WITH_PARENT, binary, ...args], options);
}

/**
 * Starts `binary`, which ends when this process ends however it ends, and polls `isReady`
 * until it says yes; if the process exits first or the deadline passes, the error names
 * the server and ends with its last output.
 */
export async function launchUntilReady(
  name: string,
  binary: string,
  args: string[],
  isReady: () => Promise<boolean>,
  deadline: number,
  pollMs = 100,
): Promise<ChildProcess> {
  // In a session of its own, so a Ctrl-C or hang-up of the terminal's job does not reach
  // it: it ends when told or with this process, not before this process has used it.
  const child = spawnEndingWithParent(binary, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const keepTail = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited (${signal ?? `code ${code}`})`;
  });
  child.once('error', (error) => {
    exited = `failed to start: ${error.message}`;
  });

  while (exited === undefined) {
    if (await isReady().catch(() => false)) return child;
    if (Date.now() > deadline) {
      await endProcess(child, 'SIGKILL');
      exited = 'was not ready in time';
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(
    `${name} (${binary} ${args.join(' ')}) ${exited}; its last output:\n${output.trimEnd()}`,
  );
}

/** Sends `signal` and waits for the exit, with SIGKILL after 10 s. */
export async function endProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = once(child, 'exit');
  child.kill(signal);
  const forceKill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    await exit;
  } finally {
    clearTimeout(forceKill);
  }
}
