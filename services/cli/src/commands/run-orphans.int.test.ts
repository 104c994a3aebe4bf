import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinySweepYaml } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';

/** The built CLI, as a user starts it (the trial-runner it spawns is the built one too). */
const CLI = fileURLToPath(new URL('../../bin/masksweep.js', import.meta.url));

/**
 * One trial whose pre-training images are a FIFO nobody writes to: its trial-runner waits
 * on the read for ever and writes nothing, like one loading a large dataset. (A trial-runner
 * that logs ends by itself at its next line, on EPIPE, since its stderr is a pipe to the
 * dead `masksweep run`; a quiet one does not.)
 */
const SWEEP = tinySweepYaml('orphans', {
  pretrainPath: 'stalled',
  masks: [{ type: 'mesh', ratios: [0.5] }],
});

/** A process as /proc shows it; its start time tells it from a later one with its pid. */
interface Process {
  pid: number;
  ppid: number;
  startTime: string;
  command: string;
}

function readProcess(pid: number): (Process & { zombie: boolean }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ... starttime (field 22); comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return {
      pid,
      ppid: Number(fields[1]),
      startTime: fields[19] as string,
      command,
      zombie: fields[0] === 'Z',
    };
  } catch {
    return undefined; // gone while being read
  }
}

/** Every process below `root`: children, their children, and so on. */
function descendants(root: number): Process[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProcess(Number(name)) ?? []);
  const found: Process[] = [];
  const parents = [root];
  for (let parent = parents.shift(); parent !== undefined; parent = parents.shift()) {
    for (const p of all.filter((candidate) => candidate.ppid === parent)) {
      found.push(p);
      parents.push(p.pid);
    }
  }
  return found;
}

/** A zombie has ended; only its new parent has not read its exit yet. */
function alive(p: Process): boolean {
  const now = readProcess(p.pid);
  return now !== undefined && now.startTime === p.startTime && !now.zombie;
}

describe.skipIf(process.platform !== 'linux')('masksweep run killed by SIGKILL', () => {
  it('leaves no trial-runner and no nats-server running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-orphans-'));
    const file = join(dir, 'orphans.yaml');
    writeFileSync(file, SWEEP);
    mkdirSync(join(dir, 'stalled'));
    writeFileSync(join(dir, 'stalled', 'labels.csv'), 'path,label\nslice.png,0\n');
    execFileSync('mkfifo', [join(dir, 'stalled', 'slice.png')]);
    const logs = join(dir, 'work', 'logs');
    const cli = spawn(
      process.execPath,
      [CLI, 'run', file, '--work-dir', join(dir, 'work'), '--backend', 'cpu'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk;
    };
    cli.stdout.on('data', keep);
    cli.stderr.on('data', keep);
    const exited = new Promise((resolve) => cli.once('exit', resolve));
    let left: Process[] = [];
    try {
      const pid = cli.pid as number;
      await expect
        .poll(
          () => {
            if (cli.exitCode !== null) throw new Error(`masksweep run ended early:\n${output}`);
            const commands = descendants(pid).map((p) => p.command);
            return {
              trialRunner: commands.some((c) => c.includes('masksweep-trial.js')),
              natsServer: commands.some((c) => /^\S*nats-server /.test(c)),
              // Its first log line, written just before it reads its images.
              loadingData: readdirSync(logs).some((log) =>
                /"msg":"trial orphans-/.test(readFileSync(join(logs, log), 'utf8')),
              ),
            };
          },
          { timeout: 120_000, interval: 500 },
        )
        .toEqual({ trialRunner: true, natsServer: true, loadingData: true });

      left = descendants(pid);
      cli.kill('SIGKILL');
      await exited;
      await expect
        .poll(() => left.filter(alive).map((p) => `${p.pid} ${p.command}`), {
          timeout: 10_000,
          interval: 200,
        })
        .toEqual([]);
    } finally {
      cli.kill('SIGKILL');
      for (const p of left.filter(alive)) process.kill(p.pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
