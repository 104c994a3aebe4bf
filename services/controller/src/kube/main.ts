/**
 * `masksweep-controller`: the Sweep controller as a process, in a pod (the service account)
 * or beside a cluster (a kubeconfig). With `--leader-elect` only the holder of the Lease
 * reconciles; the others wait, ready to take over. Serves Prometheus metrics and the
 * health endpoints. Logs are JSON lines on stderr.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { busCredentialsFromEnv } from '@masksweep/bus';
import { acquireLeadership, loadKubeClient } from '@masksweep/kube';
import { createLogger, logTo } from '@masksweep/log';
import { Command, CommanderError, Option } from 'commander';
import { type ControllerLog, KubeController } from './controller.js';
import { leaderboardRegistrar } from './leaderboard-registration.js';
import { ControllerMetrics } from './metrics.js';
import {
  ensureNatsAuthority,
  ensureTrialNatsCredentials,
  type NatsIssuer,
} from './nats-credentials.js';

const log: ControllerLog = logTo(createLogger());

class FlagError extends Error {}

interface ControllerFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  leaderElect?: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  metricsAddress?: string;
  healthAddress?: string;
  image: string;
  nats?: string;
  natsAuthSecret?: string;
  leaderboard?: string;
  leaderboardTokenSecret?: string;
  leaderboardTokenSecretKey: string;
  artifactsClaim?: string;
  dataClaim?: string;
  baseDir: string;
  artifactsDir?: string;
  retryBackoffMs: string;
  kubeRequestTimeout: string;
  trialEnv: string[];
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('masksweep-controller')
    .description('reconcile Sweeps into Trials and Jobs')
    .option(
      '--kubeconfig <file>',
      'default: $KUBECONFIG, ~/.kube/config, else the pod service account',
    )
    .option('--context <name>', "the kubeconfig's context")
    .option(
      '--kube-request-timeout <seconds>',
      'an API request not answered in this long fails and is retried (watches excepted)',
      '30',
    )
    .addOption(new Option('--namespace <name>', 'watch one namespace').conflicts('allNamespaces'))
    .option('--all-namespaces', 'watch every namespace (the default without --namespace)')
    .option('--leader-elect', 'reconcile only while holding the Lease (run several replicas)')
    .addOption(
      new Option('--leader-election-namespace <name>', "the Lease's namespace").env(
        'POD_NAMESPACE',
      ),
    )
    .option('--leader-election-id <name>', "the Lease's name", 'masksweep-controller')
    .option(
      '--leader-elect-lease-duration <seconds>',
      'a leader silent this long is replaced',
      '15',
    )
    .option(
      '--leader-elect-renew-deadline <seconds>',
      'the leader gives up after failing to renew this long',
      '10',
    )
    .option(
      '--leader-elect-retry-period <seconds>',
      'between tries to take or renew the Lease',
      '2',
    )
    .option('--metrics-address <[host]:port>', 'serve /metrics here')
    .option('--health-address <[host]:port>', 'serve /healthz and /readyz here')
    .addOption(
      new Option('--image <image>', 'the trial-runner image of trial pods')
        .env('MASKSWEEP_TRIAL_IMAGE')
        .default('ghcr.io/masksweep/masksweep:0.1.0'),
    )
    .addOption(new Option('--nats <url>', 'NATS of the trial pods').env('MASKSWEEP_NATS_URL'))
    .addOption(
      new Option(
        '--nats-auth-secret <name>',
        "NATS authentication: the authority Secret in the controller's namespace (created when missing); trial pods get their Sweep's credentials",
      ).env('MASKSWEEP_NATS_AUTH_SECRET'),
    )
    .addOption(
      new Option('--leaderboard <host:port>', "the leaderboard's gRPC address for trial pods").env(
        'MASKSWEEP_LEADERBOARD',
      ),
    )
    .option(
      '--leaderboard-token-secret <name>',
      "the Secret with the leaderboard's write token, for trial pods",
    )
    .option('--leaderboard-token-secret-key <key>', 'its key', 'token')
    .option('--artifacts-claim <pvc>', 'the artifact store volume of trial pods, at /artifacts')
    .option('--data-claim <pvc>', 'the datasets volume of trial pods, read-only at --base-dir')
    .option('--base-dir <dir>', 'where relative dataset paths start in trial pods', '/data')
    .option(
      '--artifacts-dir <dir>',
      'the artifact store mounted here: reuse pre-training runs it holds',
    )
    .option('--retry-backoff-ms <ms>', 'first retry delay, doubling per retry', '10000')
    .option('--trial-env <name=value...>', 'more environment for trial pods', [])
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const flags = program.opts<ControllerFlags>();
  const retryBackoffMs = Number(flags.retryBackoffMs);
  if (!Number.isFinite(retryBackoffMs) || retryBackoffMs < 0) {
    process.stderr.write(
      `masksweep-controller: --retry-backoff-ms: not a duration: ${flags.retryBackoffMs}\n`,
    );
    return 2;
  }
  const seconds = (flag: string, text: string) => {
    const value = Number(text);
    if (!(value > 0)) throw new FlagError(`${flag}: not a number of seconds: ${text}`);
    return value;
  };
  let lease: { leaseDurationSeconds: number; renewDeadlineMs: number; retryPeriodMs: number };
  let requestTimeoutMs: number;
  try {
    requestTimeoutMs = 1000 * seconds('--kube-request-timeout', flags.kubeRequestTimeout);
    lease = {
      leaseDurationSeconds: seconds(
        '--leader-elect-lease-duration',
        flags.leaderElectLeaseDuration,
      ),
      renewDeadlineMs:
        1000 * seconds('--leader-elect-renew-deadline', flags.leaderElectRenewDeadline),
      retryPeriodMs: 1000 * seconds('--leader-elect-retry-period', flags.leaderElectRetryPeriod),
    };
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    process.stderr.write(`masksweep-controller: ${error.message}\n`);
    return 2;
  }
  const trialEnv: Record<string, string> = {};
  for (const pair of flags.trialEnv) {
    const at = pair.indexOf('=');
    if (at < 1) {
      process.stderr.write(`masksweep-controller: --trial-env: expected name=value, got ${pair}\n`);
      return 2;
    }
    trialEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }

  // The write token comes from the environment only (a Secret): command lines are visible.
  const leaderboard = flags.leaderboard
    ? leaderboardRegistrar(flags.leaderboard, process.env.MASKSWEEP_LEADERBOARD_TOKEN)
    : undefined;
  let client: Awaited<ReturnType<typeof loadKubeClient>>;
  try {
    client = await loadKubeClient({
      kubeconfig: flags.kubeconfig,
      context: flags.context,
      userAgent: 'masksweep-controller',
      requestTimeoutMs,
    });
  } catch (error) {
    process.stderr.write(
      `masksweep-controller: no cluster to talk to: ${(error as Error).message}\n`,
    );
    leaderboard?.close();
    return 1;
  }
  let natsIssuer: NatsIssuer | undefined;
  if (flags.natsAuthSecret) {
    try {
      natsIssuer = await ensureNatsAuthority(client, client.namespace, flags.natsAuthSecret);
    } catch (error) {
      process.stderr.write(
        `masksweep-controller: --nats-auth-secret ${client.namespace}/${flags.natsAuthSecret}: ${(error as Error).message}\n`,
      );
      leaderboard?.close();
      return 1;
    }
  }
  const issuer = natsIssuer;
  const metrics = new ControllerMetrics();
  // A promise that failed with nobody waiting on it is a bug to log, not a reason to stop
  // every Sweep: Node's default is to exit, and the restarted pod would meet it again. (An
  // uncaught exception still exits: the process may be in no state to go on.)
  process.on('unhandledRejection', (reason) => {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    log('error', 'unhandled rejection', { error: error.message, stack: error.stack });
  });
  const controller = new KubeController({
    client,
    namespace: flags.namespace,
    artifactsDir: flags.artifactsDir,
    natsUrl: flags.nats,
    natsCredentials: issuer ? { creds: issuer.controllerCreds } : busCredentialsFromEnv(),
    retryBackoffMs,
    jobs: {
      image: flags.image,
      natsUrl: flags.nats,
      natsCredentials: issuer !== undefined,
      leaderboard: flags.leaderboard,
      leaderboardTokenSecret: flags.leaderboardTokenSecret
        ? { name: flags.leaderboardTokenSecret, key: flags.leaderboardTokenSecretKey }
        : undefined,
      artifactsClaim: flags.artifactsClaim,
      dataClaim: flags.dataClaim,
      baseDir: flags.baseDir,
      env: trialEnv,
    },
    log,
    onPass: (pass) => metrics.observe(pass),
    // Before a Sweep's first Job: its results are accepted, its trials may publish.
    registerSweep: async (sweep, trialCount) => {
      await leaderboard?.register(sweep, trialCount);
      if (issuer) await ensureTrialNatsCredentials(client, issuer, sweep);
    },
    onEnded: (reason) => metrics.workloadsEnded.inc({ reason }),
    onError: () => metrics.reconciles.inc({ result: 'error' }),
  });

  let ready = false;
  const servers: Server[] = [];
  const serve = async (
    address: string,
    routes: Record<string, () => Promise<[number, string, string]>>,
  ) => {
    const [host, port] = splitAddress(address);
    const server = createServer((request, response) => {
      const route = routes[(request.url ?? '/').split('?')[0] ?? '/'];
      if (!route) {
        response.writeHead(404).end('not found\n');
        return;
      }
      route().then(
        ([status, type, body]) => response.writeHead(status, { 'content-type': type }).end(body),
        (error: Error) => response.writeHead(500).end(`${error.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(port, host, resolve),
    );
    servers.push(server);
    const bound = server.address() as AddressInfo;
    log('info', 'serving', {
      paths: Object.keys(routes),
      address: `${bound.address}:${bound.port}`,
    });
  };
  const routes: Record<string, () => Promise<[number, string, string]>> = {};
  if (flags.metricsAddress)
    routes['/metrics'] = async () => [
      200,
      metrics.registry.contentType,
      await metrics.registry.metrics(),
    ];
  const health = {
    '/healthz': async (): Promise<[number, string, string]> => [200, 'text/plain', 'ok\n'],
    // A standby replica is ready: it is waiting for the Lease, as it should.
    '/readyz': async (): Promise<[number, string, string]> =>
      ready ? [200, 'text/plain', 'ok\n'] : [503, 'text/plain', 'starting\n'],
  };
  if (flags.healthAddress && flags.healthAddress === flags.metricsAddress)
    Object.assign(routes, health);
  else if (flags.healthAddress) await serve(flags.healthAddress, health);
  if (flags.metricsAddress) await serve(flags.metricsAddress, routes);

  const stopping = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stopping.abort());
  let leadership: Awaited<ReturnType<typeof acquireLeadership>>;
  if (flags.leaderElect) {
    const identity = `${hostname()}-${randomBytes(4).toString('hex')}`;
    const namespace = flags.leaderElectionNamespace ?? client.namespace;
    ready = true;
    log('info', 'waiting for the lease', {
      lease: `${namespace}/${flags.leaderElectionId}`,
      identity,
    });
    leadership = await acquireLeadership(
      {
        client,
        namespace,
        name: flags.leaderElectionId,
        identity,
        ...lease,
        onError: (error) => log('warn', 'lease call failed', { error: error.message }),
      },
      stopping.signal,
    );
    if (!leadership) return closeAll(servers, [client, leaderboard], 0);
    metrics.leader.set(1);
    log('info', 'leading', { identity });
    leadership.lost.addEventListener('abort', () => stopping.abort());
  }
  await controller.start();
  ready = true;
  log('info', 'controller started', { namespace: flags.namespace ?? '(all)' });
  await new Promise<void>((resolve) => {
    if (stopping.signal.aborted) resolve();
    stopping.signal.addEventListener('abort', () => resolve());
  });
  const lost = leadership?.lost.aborted ?? false;
  await controller.stop();
  await leadership?.release();
  metrics.leader.set(0);
  // Lost the lease: exit non-zero, so the pod restarts and waits for it again (as client-go).
  log(lost ? 'error' : 'info', lost ? 'lost the lease' : 'controller stopped');
  return closeAll(servers, [client, leaderboard], lost ? 1 : 0);
}

async function closeAll(
  servers: Server[],
  clients: Array<{ close(): void } | undefined>,
  code: number,
): Promise<number> {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  for (const client of clients) client?.close();
  return code;
}

/** `:8080` or `127.0.0.1:8080` (port 0: any free one). */
function splitAddress(address: string): [string | undefined, number] {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0)
    throw new Error(`not an address ([host]:port): ${address}`);
  return [address.slice(0, at) || undefined, port];
}
