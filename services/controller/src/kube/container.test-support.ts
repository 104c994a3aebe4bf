/**
 * Plays a kubelet for one Job's pod on this machine (excluded from the build): runs the
 * container's command and args as a local process with the container's environment (a
 * Secret's key resolved through the API server), each volume mount as a local folder, and
 * the termination message read from the file the container wrote.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job, JobRunContext, JobRunResult, KubeApiServer } from '@masksweep/testing';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

export interface ContainerProcessOptions {
  server: KubeApiServer;
  /** Mount path in the pod -> folder here. */
  mounts: Record<string, string>;
  /** The container's command, as run here (the image's entry point is not on PATH here). */
  command: string[];
  /** Where termination messages are written: one file per pod. */
  scratchDir: string;
  /** Environment added for this machine (e.g. MASKSWEEP_BACKEND). */
  env?: Record<string, string>;
}

export async function runContainerAsProcess(
  job: Job,
  context: JobRunContext,
  options: ContainerProcessOptions,
): Promise<JobRunResult> {
  const container = job.spec.template.spec.containers[0];
  if (!container) throw new Error(`Job ${job.metadata.name} has no container`);
  const local = (text: string) => {
    for (const [mount, folder] of Object.entries(options.mounts))
      if (text === mount || text.startsWith(`${mount}/`)) return folder + text.slice(mount.length);
    return text;
  };
  const terminationLog = join(options.scratchDir, `${context.podName}.termination-log`);
  mkdirSync(options.scratchDir, { recursive: true });
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...options.env };
  for (const variable of (container.env ?? []) as EnvVar[]) {
    const secret = variable.valueFrom?.secretKeyRef;
    if (secret) {
      const found = await options.server.client.call<{ data: Record<string, string> }>(
        'GET',
        `/api/v1/namespaces/${job.metadata.namespace}/secrets/${secret.name}`,
      );
      env[variable.name] = Buffer.from(found.data[secret.key] ?? '', 'base64').toString('utf8');
    } else {
      env[variable.name] = local(variable.value ?? '');
    }
  }
  env.MASKSWEEP_TERMINATION_LOG = terminationLog;
  const child = spawn(
    options.command[0] as string,
    [...options.command.slice(1), ...(container.args ?? []).map(local)],
    {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  const stop = () => child.kill('SIGTERM');
  context.signal.addEventListener('abort', stop);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  context.signal.removeEventListener('abort', stop);
  // terminationMessagePolicy FallbackToLogsOnError: the log's tail when the file is empty.
  const written = existsSync(terminationLog) ? readFileSync(terminationLog, 'utf8') : '';
  const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
  return { exitCode, message: written || (exitCode === 0 ? '' : stderr.trim().split('\n').pop()) };
}
