import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

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

/** The last bytes of a server's output kept for error messages. */
const OUTPUT_TAIL_BYTES = 8192;

// Servers and temporary stores still alive when the test process exits.
const running = new Set<ChildProcess>();
const temporaryStores = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of temporaryStores) rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts `nats-server` with JetStream on free loopback ports and waits until its health
 * endpoint reports it ready (JetStream included).
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findExecutable(options.binary ?? 'nats-server');
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'masksweep-nats-'));
  if (ownsStore) temporaryStores.add(storeDir);
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
    child = await launchUntilHealthy(binary, args, monitorUrl, startTimeoutMs);
  };
  const end = async (signal: NodeJS.Signals) => {
    const current = child;
    child = undefined;
    if (current) await endProcess(current, signal);
  };

  try {
    await launch();
  } catch (error) {
    if (ownsStore) removeStore(storeDir);
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
      if (ownsStore) removeStore(storeDir);
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

function removeStore(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  temporaryStores.delete(dir);
}

/** A path of `binary`: itself when it has a slash, else the first match on PATH or in /usr/sbin. */
function findExecutable(binary: string): string {
  // Debian's package installs to /usr/sbin, which is not on a normal user's PATH.
  const dirs = binary.includes('/')
    ? ['']
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin'];
  for (const dir of dirs) {
    const candidate = dir ? join(dir, binary) : binary;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next folder
    }
  }
  throw new Error(
    `${binary} not found on PATH: install the Debian package nats-server (apt-get install nats-server)`,
  );
}

async function launchUntilHealthy(
  binary: string,
  args: string[],
  monitorUrl: string,
  timeoutMs: number,
): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

  const deadline = Date.now() + timeoutMs;
  while (exited === undefined) {
    if (await isHealthy(monitorUrl)) return child;
    if (Date.now() > deadline) {
      await endProcess(child, 'SIGKILL');
      exited = `was not ready after ${timeoutMs} ms`;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `nats-server (${binary} ${args.join(' ')}) ${exited}; its last output:\n${output.trimEnd()}`,
  );
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

async function endProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
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
