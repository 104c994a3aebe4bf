import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, generateKeyPair as rsaKeyPair } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  createKubeClient,
  type KubeClient,
  type KubeResponse,
  type RequestOptions,
  type WatchEvent,
} from '@masksweep/kube';

export type { KubeObject, KubeResponse, RequestOptions, WatchEvent } from '@masksweep/kube';

import {
  endProcess,
  findExecutable,
  freePort,
  launchUntilReady,
  removeTemporaryDir,
  trackTemporaryDir,
} from '@masksweep/process';

export interface KubeApiServerOptions {
  /**
   * The kube-apiserver executable.
   * @default env MASKSWEEP_KUBE_APISERVER, else the binary `.ci/kube-apiserver.sh` caches
   */
  binary?: string;
  /** The etcd executable: a name looked up on PATH, or a path. @default 'etcd' */
  etcdBinary?: string;
  /** The namespace the kubeconfig's context uses; created when missing. @default 'default' */
  namespace?: string;
  /** How long start waits for etcd and then the API server to be ready. @default 60000 */
  startTimeoutMs?: number;
  /** More command-line arguments for kube-apiserver. @default [] */
  args?: string[];
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  /** The exit code; -1 when kubectl ended by a signal. */
  code: number;
}

/** A kube-apiserver with its own etcd on 127.0.0.1, started by {@link startKubeApiServer}. */
export interface KubeApiServer {
  /** `https://127.0.0.1:<port>`; its certificate is self-signed (see {@link caInsecure}). */
  readonly url: string;
  /** A bearer token of a user in `system:masters`. */
  readonly token: string;
  /** A client of this server as `token`'s user, `namespace` its default. */
  readonly client: KubeClient;
  /** A kubeconfig for `url` and `token`, with `namespace` as the context's namespace. */
  readonly kubeconfigPath: string;
  /** Clients must skip TLS verification: the serving certificate is self-signed. */
  readonly caInsecure: true;
  readonly namespace: string;
  /** etcd's client URL, `http://127.0.0.1:<port>`. */
  readonly etcdUrl: string;
  /** The temporary folder with etcd's data, the keys, the kubeconfig; removed on stop. */
  readonly dir: string;
  /** Milliseconds from the call of start to the first healthy answer of the API server. */
  readonly startupMs: number;
  /** Runs kubectl against this server (its own kubeconfig and discovery cache). */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /**
   * One HTTP request with the token; `body` is sent as is when a string, else as JSON.
   * Never throws for an HTTP status: the caller reads `status`.
   */
  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<KubeResponse<T>>;
  /**
   * The events of a watch request (`path` carries `watch=1` and the query), until `signal`
   * aborts or the server closes the stream. Throws when the server refuses the watch.
   */
  watch(path: string, signal: AbortSignal): AsyncGenerator<WatchEvent>;
  /** Ends kube-apiserver and etcd (SIGTERM, then SIGKILL after 10 s) and removes {@link dir}. */
  stop(): Promise<void>;
}

const BUILD_SCRIPT = '.ci/kube-apiserver.sh';

/**
 * Starts etcd and kube-apiserver 1.20 (docs/kubernetes.md#the-test-api-server) on free loopback
 * ports with a temporary folder, waits until `/healthz` answers `ok`, and makes sure the namespace
 * exists. No controller-manager, scheduler or kubelet runs: see `runJobs` for Jobs.
 */
export async function startKubeApiServer(
  options: KubeApiServerOptions = {},
): Promise<KubeApiServer> {
  const started = performance.now();
  const binary = findKubeApiServer(options.binary);
  const etcdBinary = findExecutable(
    options.etcdBinary ?? 'etcd',
    'install the Debian package etcd-server (apt-get install etcd-server)',
  );
  const kubectlBinary = findExecutable('kubectl', `run ${BUILD_SCRIPT}, which installs it`);
  const namespace = options.namespace ?? 'default';
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;

  const dir = trackTemporaryDir(mkdtempSync(join(tmpdir(), 'masksweep-kube-')));
  const children: ChildProcess[] = [];
  let client: KubeClient | undefined;
  const removeAll = async () => {
    // The API server first: it would log etcd errors while etcd goes away.
    for (const child of children.reverse()) await endProcess(child, 'SIGTERM');
    client?.close();
    removeTemporaryDir(dir);
  };

  try {
    const token = randomBytes(24).toString('hex');
    const [etcdPort, peerPort, securePort] = await distinctFreePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const url = `https://127.0.0.1:${securePort}`;
    const keys = await promisify(rsaKeyPair)('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    writeFileSync(join(dir, 'sa.key'), keys.privateKey, { mode: 0o600 });
    writeFileSync(join(dir, 'sa.pub'), keys.publicKey);
    writeFileSync(
      join(dir, 'tokens.csv'),
      `${token},masksweep-admin,masksweep-admin,"system:masters"\n`,
    );

    children.push(
      await launchUntilReady(
        'etcd',
        etcdBinary,
        [
          ...['--name', 'masksweep-test', '--data-dir', join(dir, 'etcd')],
          ...['--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl],
          ...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
          ...['--initial-cluster', `masksweep-test=${peerUrl}`],
        ],
        () => isEtcdHealthy(etcdUrl),
        deadline,
      ),
    );

    client = createKubeClient({
      server: url,
      namespace,
      authorization: () => `Bearer ${token}`,
      tls: { rejectUnauthorized: false },
    });
    const send = client.request;
    children.push(
      await launchUntilReady(
        'kube-apiserver',
        binary,
        [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${securePort}`,
          // 1.20 also serves plain HTTP on 8080 unless told not to: two servers would collide.
          '--insecure-port=0',
          `--cert-dir=${join(dir, 'certs')}`,
          `--token-auth-file=${join(dir, 'tokens.csv')}`,
          '--authorization-mode=RBAC',
          '--service-account-issuer=https://kubernetes.default.svc',
          `--service-account-key-file=${join(dir, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
          '--service-cluster-ip-range=10.0.0.0/24',
          // Without a controller-manager no ServiceAccount `default` and no token exist, and
          // this admission plugin would refuse every Pod.
          '--disable-admission-plugins=ServiceAccount',
          ...(options.args ?? []),
        ],
        async () => {
          const response = await send('GET', '/healthz', undefined, {
            signal: AbortSignal.timeout(2000),
          });
          return response.status === 200 && response.body === 'ok';
        },
        deadline,
      ),
    );
    const startupMs = Math.round(performance.now() - started);

    await ensureNamespace(send, namespace);
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, url, token, namespace);
    const cacheDir = join(dir, 'kubectl-cache');
    mkdirSync(cacheDir);

    let stopped = false;
    return {
      url,
      token,
      kubeconfigPath,
      caInsecure: true,
      namespace,
      etcdUrl,
      dir,
      startupMs,
      kubectl: (args, input) =>
        runKubectl(
          kubectlBinary,
          // Its own discovery cache: another server may have had this port before, with other CRDs.
          [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args],
          input,
        ),
      client,
      request: send,
      watch: client.watch,
      async stop() {
        if (stopped) return;
        stopped = true;
        await removeAll();
      },
    };
  } catch (error) {
    await removeAll();
    throw error;
  }
}

/**
 * Applies the CRD manifests in `dir` with kubectl and waits until each is Established.
 * Returns the CRDs' names (e.g. `sweeps.masksweep.io`).
 * @param dir a folder or file of CRDs; relative paths start at the repository root
 */
export async function applyCrds(
  server: KubeApiServer,
  dir = 'k8s/crds',
  timeoutMs = 30_000,
): Promise<string[]> {
  const path = fileURLToPath(new URL(dir, REPOSITORY_ROOT));
  const applied = await server.kubectl(['apply', '-f', path, '-o', 'name']);
  if (applied.code !== 0)
    throw new Error(`kubectl apply -f ${path} failed (code ${applied.code}):\n${applied.stderr}`);
  const names = applied.stdout
    .split('\n')
    .filter((line) => line.startsWith('customresourcedefinition.apiextensions.k8s.io/'))
    .map((line) => line.slice(line.indexOf('/') + 1));
  if (names.length === 0) throw new Error(`${path} holds no CustomResourceDefinition`);
  for (const name of names) await waitForCrd(server, name, timeoutMs);
  return names;
}

/**
 * Waits until the CRD `name` (e.g. `sweeps.masksweep.io`) has condition Established. Polls
 * the CRD itself: `kubectl wait` of 1.20 fails at once while the new CRD has no conditions yet.
 */
export async function waitForCrd(
  server: KubeApiServer,
  name: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const response = await server.request<{
      status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
    }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    const conditions = response.status === 200 ? (response.body.status?.conditions ?? []) : [];
    if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) return;
    last =
      response.status === 200
        ? conditions.map((c) => `${c.type}=${c.status} ${c.message ?? ''}`).join('; ') ||
          'no conditions yet'
        : `answered ${response.status}`;
    if (Date.now() > deadline)
      throw new Error(`CRD ${name} was not Established within ${timeoutMs} ms: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// packages/testing/{src,dist}/ -> the repository root.
const REPOSITORY_ROOT = new URL('../../../', import.meta.url);

/** The path that `.ci/kube-apiserver.sh` builds to. */
function cachedBinaryPath(): string {
  // Mirrors the script's `${MASKSWEEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/masksweep}`.
  const cache =
    process.env.MASKSWEEP_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'masksweep');
  return join(cache, 'kube-apiserver-1.20.2', 'kube-apiserver');
}

function findKubeApiServer(binary: string | undefined): string {
  const [path, source] =
    binary !== undefined
      ? [binary, 'options.binary']
      : process.env.MASKSWEEP_KUBE_APISERVER
        ? [process.env.MASKSWEEP_KUBE_APISERVER, 'MASKSWEEP_KUBE_APISERVER']
        : [cachedBinaryPath(), `the cache of ${BUILD_SCRIPT}`];
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(
      `kube-apiserver not found at ${path} (from ${source}): run ${BUILD_SCRIPT} to build it ` +
        '(about 15-20 min the first time), or set MASKSWEEP_KUBE_APISERVER to a kube-apiserver 1.20',
    );
  }
}

/** `count` free ports, different from each other (freePort alone may repeat one). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function isEtcdHealthy(etcdUrl: string): Promise<boolean> {
  const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(1000) });
  const body = (await response.json()) as { health?: string };
  return body.health === 'true';
}

type Send = KubeApiServer['request'];

async function ensureNamespace(send: Send, namespace: string): Promise<void> {
  // The API server's bootstrap controller makes `default`; any other namespace is ours to make.
  const found = await send('GET', `/api/v1/namespaces/${namespace}`);
  if (found.status === 200) return;
  const created = await send('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  });
  if (created.status !== 201 && created.status !== 409)
    throw new Error(
      `creating namespace ${namespace} failed (${created.status}): ${JSON.stringify(created.body)}`,
    );
}

function writeKubeconfig(path: string, url: string, token: string, namespace: string): void {
  // JSON is YAML: kubectl and @kubernetes/client-node read it as a kubeconfig.
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'masksweep-test', cluster: { server: url, 'insecure-skip-tls-verify': true } },
    ],
    users: [{ name: 'masksweep-admin', user: { token } }],
    contexts: [
      {
        name: 'masksweep-test',
        context: { cluster: 'masksweep-test', user: 'masksweep-admin', namespace },
      },
    ],
    'current-context': 'masksweep-test',
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

function runKubectl(binary: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (error) =>
      reject(new Error(`kubectl ${args.join(' ')} failed to start: ${error.message}`)),
    );
    child.once('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    child.stdin.end(input);
  });
}
