/**
 * Workloads as child processes of the trial-runner on this machine: one folder per trial,
 * one log file per workload, the shared artifact store; a process that ends is turned into
 * a WorkloadEnd by its exit code (TRIAL_EXIT_CODES of @masksweep/api) or
 * the signal that killed it (interrupted). `stopAll` ends every child, so nothing outlives
 * `masksweep run`; a child whose parent died without stopping it (SIGKILL) ends by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricName, type Trial, trialExitReason } from '@masksweep/api';
import type { Workload, WorkloadEnd } from './reconcile.js';
import type { EndReason } from './state.js';

export interface LocalExecutorOptions {
  /** Holds trials/<trial>/, logs/ and artifacts/. */
  workDir: string;
  /** The trial-runner's entry script (services/trial-runner/bin/masksweep-trial.js). */
  trialRunner: string;
  /** Where relative dataset paths start (the Sweep file's folder). */
  baseDir: string;
  namespace: string;
  sweep: string;
  natsUrl?: string;
  /** host:port of the leaderboard's gRPC server, with its write token. */
  leaderboard?: { address: string; token: string };
  /** TensorFlow.js backend of the trials (MASKSWEEP_BACKEND otherwise). */
  backend?: string;
  /** Called when a workload ends: the controller has something to do. */
  onChange?: () => void;
}

const STOP_GRACE_MS = 5_000;

export class LocalExecutor {
  readonly #children = new Map<string, { child: ChildProcess; exited: Promise<void> }>();
  #ended: WorkloadEnd[] = [];

  constructor(private readonly options: LocalExecutorOptions) {
    mkdirSync(join(options.workDir, 'logs'), { recursive: true });
  }

  get artifactsDir(): string {
    return join(this.options.workDir, 'artifacts');
  }

  trialDir(trial: Trial): string {
    return join(this.options.workDir, 'trials', trial.name);
  }

  logFile(workload: Workload): string {
    return join(this.options.workDir, 'logs', `${workload.name}.log`);
  }

  /** Whether the store holds the finished pre-training run of a key. */
  pretrained(key: string): boolean {
    return existsSync(join(this.artifactsDir, 'pretrain', key, 'weights.bin'));
  }

  /**
   * The validation metrics of the trial's result.json (`val`: the end of fine-tuning), by
   * their wire names; its test metrics are not read.
   */
  validationMetricsOf(trial: Trial): Record<string, number> | undefined {
    const file = join(this.trialDir(trial), 'result.json');
    if (!existsSync(file)) return undefined;
    const result = JSON.parse(readFileSync(file, 'utf8')) as {
      val?: { metrics: Record<string, number> };
    };
    if (!result.val) return undefined;
    return Object.fromEntries(
      Object.entries(result.val.metrics).map(([name, value]) => [metricName(name), value]),
    );
  }

  start(workload: Workload): void {
    const { options } = this;
    const outDir =
      workload.stage === 'pretrain'
        ? join(options.workDir, 'pretrain', workload.trial.pretrainKey)
        : this.trialDir(workload.trial);
    mkdirSync(outDir, { recursive: true });
    const config = join(outDir, 'trial.json');
    writeFileSync(config, `${JSON.stringify(workload.trial, null, 2)}\n`);
    const args = [
      options.trialRunner,
      '--config',
      config,
      '--out',
      outDir,
      '--artifacts',
      this.artifactsDir,
      '--base-dir',
      options.baseDir,
      '--stage',
      workload.stage,
      '--namespace',
      options.namespace,
      '--sweep',
      options.sweep,
      '--attempt',
      String(workload.attempt),
    ];
    if (options.backend) args.push('--backend', options.backend);
    if (options.natsUrl) args.push('--nats', options.natsUrl);
    if (options.leaderboard) args.push('--leaderboard', options.leaderboard.address);
    const log = createWriteStream(this.logFile(workload));
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        // The trial-runner watches this process and ends when it is gone.
        MASKSWEEP_PARENT_PID: String(process.pid),
        ...(options.leaderboard && { MASKSWEEP_LEADERBOARD_TOKEN: options.leaderboard.token }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    let lastLine = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = chunk.toString().trim().split('\n');
      lastLine = lines[lines.length - 1] ?? lastLine;
    });
    const exited = new Promise<void>((resolve) => {
      child.on('close', (code, signal) => {
        log.end();
        this.#children.delete(workload.name);
        const reason: EndReason = code === null ? 'Interrupted' : trialExitReason(code);
        const message =
          code === null ? `killed by ${signal}` : logMessage(lastLine) || `exited with ${code}`;
        this.#ended.push({ workload, reason, message });
        resolve();
        options.onChange?.();
      });
    });
    this.#children.set(workload.name, { child, exited });
  }

  running(): Set<string> {
    return new Set(this.#children.keys());
  }

  /** The workloads that ended since the last call. */
  takeEnded(): WorkloadEnd[] {
    return this.#ended.splice(0);
  }

  async stop(name: string): Promise<void> {
    const entry = this.#children.get(name);
    if (!entry) return;
    entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), STOP_GRACE_MS);
    await entry.exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children.keys()].map((name) => this.stop(name)));
  }
}

/** The msg of a JSON log line of the trial-runner; any other line as it is. */
function logMessage(line: string): string {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && 'msg' in parsed) return String(parsed.msg);
  } catch {
    // not a log line: a crash's own output
  }
  return line;
}
