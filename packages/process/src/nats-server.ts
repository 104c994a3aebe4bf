import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import {
  endProcess,
  findExecutable,
  launchUntilReady,
  removeTemporaryDir,
  trackTemporaryDir,
} from './process.js';

export interface NatsServerOptions {
  /**
   * The JetStream store; kept on stop. @default a new temporary folder, removed on stop
   */
  storeDir?: string;
  /** The executable: a name looked up on PATH, or a path. @default 'nats-server' */
  binary?: string;
  /** How long start and restart wait for the server to be ready. @default 15000 */
  startTimeoutMs?: number;
  /** More command-line arguments for nats-server. @default [] */
  args?: string[];
}

/** A nats-server with JetStream on 127.0.0.1, started by {@link startNatsServer}. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The HTTP monitoring endpoint (`/healthz`, `/jsz`, `/varz`), `http://127.0.0.1:<port>`. */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** The process id while the server runs. */
  readonly pid: number | undefined;
  /** Ends the server (SIGTERM, then SIGKILL after 10 s) and removes a temporary store. */
  stop(): Promise<void>;
  /** Sends a signal that ends the server (default SIGKILL) and waits for the exit; the store stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Ends the server if it runs and starts it again on the same ports and store. */
  restart(): Promise<void>;
}

/**
 * Starts `nats-server` with JetStream on free loopback ports and waits until its health
 * endpoint reports it ready (JetStream included). It ends with this process, even one killed
 * by SIGKILL (`masksweep run` starts it too), and a Ctrl-C in the terminal does not reach it.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  // Debian's package installs to /usr/sbin, which is not on a normal user's PATH.
  const binary = findExecutable(
    options.binary ?? 'nats-server',
    'install the Debian package nats-server (apt-get install nats-server)',
    ['/usr/sbin'],
  );
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'masksweep-nats-'));
  if (ownsStore) trackTemporaryDir(storeDir);
  const port = await freePort();
  const monitorPort = await freePort();
  const args = [
    ...['--addr', '127.0.0.1', '--port', String(port), '--http_port', String(monitorPort)],
    ...['--jetstream', '--store_dir', storeDir],
    ...(options.args ?? []),
  ];
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async () => {
    child = await launchUntilReady(
      'nats-server',
      binary,
      args,
      () => isHealthy(monitorUrl),
      Date.now() + startTimeoutMs,
      50,
    );
  };
  const end = async (signal: NodeJS.Signals) => {
    const current = child;
    child = undefined;
    if (current) await endProcess(current, signal);
  };

  try {
    await launch();
  } catch (error) {
    if (ownsStore) removeTemporaryDir(storeDir);
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl,
    storeDir,
    get pid() {
      return child?.pid;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await end('SIGTERM');
      if (ownsStore) removeTemporaryDir(storeDir);
    },
    async kill(signal = 'SIGKILL') {
      await end(signal);
    },
    async restart() {
      if (stopped) throw new Error(`nats-server on port ${port} was stopped: it cannot restart`);
      await end('SIGTERM');
      await launch();
    },
  };
}

/** `/healthz` answers 200 once the server accepts clients and JetStream is current. */
async function isHealthy(monitorUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
