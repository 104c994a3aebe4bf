/**
 * Credentials for the API server, read the way client-go reads them: a kubeconfig (the
 * `--kubeconfig` file, else the `$KUBECONFIG` list merged, else `~/.kube/config`), else the
 * pod's service account. Tokens, token files, client certificates and basic auth are read
 * here; users with an `exec` plugin or an `auth-provider` (EKS, GKE, OIDC, Azure) go to
 * `@kubernetes/client-node`, loaded only then: importing it costs about 80 MiB of RSS.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { KubeClientOptions, LoadKubeClientOptions } from './client.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeCredentialsOptions extends LoadKubeClientOptions {
  /** Where `KUBECONFIG`, `KUBERNETES_SERVICE_HOST` and `_PORT` are read. @default process.env */
  env?: Record<string, string | undefined>;
  /** The home folder whose `.kube/config` is the default kubeconfig. @default os.homedir() */
  homeDir?: string;
  /** The service account's `token`, `ca.crt` and `namespace`. @default SERVICE_ACCOUNT_DIR */
  serviceAccountDir?: string;
}

export interface KubeCredentials {
  server: string;
  namespace: string;
  tls: NonNullable<KubeClientOptions['tls']>;
  /**
   * The `Authorization` header's value, read again on each call (token files rotate);
   * absent for a user who authenticates with a client certificate only.
   */
  authorization?: () => Promise<string | undefined>;
  /** Where the credentials came from: the kubeconfig file(s), or the service account. */
  source: string;
}

/** Reads the credentials of the context (or the pod); see the module's comment. */
export async function loadKubeCredentials(
  options: LoadKubeCredentialsOptions = {},
): Promise<KubeCredentials> {
  const env = options.env ?? process.env;
  const serviceAccountDir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const home = options.homeDir ?? homedir();
  const files = kubeconfigFiles(options.kubeconfig, env, home);
  if (files.length === 0) {
    const searched = env.KUBECONFIG
      ? `$KUBECONFIG (${env.KUBECONFIG}) names no existing file`
      : `${join(home, '.kube', 'config')} does not exist`;
    if (options.context)
      throw new Error(`context '${options.context}' given, but no kubeconfig: ${searched}`);
    return inClusterCredentials(env, serviceAccountDir, searched);
  }
  const config = readKubeconfigs(files);
  const where = `kubeconfig ${files.join(delimiter)}`;
  const contextName = options.context ?? config.currentContext;
  if (!contextName) throw new Error(`${where}: no current-context set and no context given`);
  const context = config.contexts.get(contextName);
  if (!context) throw new Error(`${where}: context '${contextName}' not found`);
  const clusterName = field(context, 'cluster', 'string');
  if (!clusterName) throw new Error(`${context.where} has no cluster`);
  const cluster = config.clusters.get(clusterName);
  if (!cluster)
    throw new Error(`${where}: cluster '${clusterName}' of context '${contextName}' not found`);
  const userName = field(context, 'user', 'string');
  const user = userName === undefined ? undefined : config.users.get(userName);
  if (userName !== undefined && !user)
    throw new Error(`${where}: user '${userName}' of context '${contextName}' not found`);

  const { server, tls } = clusterTls(cluster);
  const namespace =
    field(context, 'namespace', 'string') || serviceAccountNamespace(serviceAccountDir);
  if (!user) return { server, namespace, tls, source: where };
  if (user.value.exec !== undefined || user.value['auth-provider'] !== undefined)
    return pluginCredentials(cluster, user, { server, namespace, tls, source: where });
  const identity = userIdentity(user);
  return { server, namespace, source: where, ...identity, tls: { ...tls, ...identity.tls } };
}

/** One entry of a kubeconfig's `clusters`, `users` or `contexts`, and the file it is from. */
interface Entry {
  name: string;
  value: Record<string, unknown>;
  /** The file's folder: relative paths in the entry are relative to it. */
  dir: string;
  /** For messages: "kubeconfig <file>: user 'u'". */
  where: string;
}

interface Kubeconfig {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
  currentContext?: string;
}

const LISTS = [
  ['clusters', 'cluster'],
  ['users', 'user'],
  ['contexts', 'context'],
] as const;

/**
 * The kubeconfig files to read, in order: the explicit file (which must exist), else the
 * existing files of `$KUBECONFIG`, else `~/.kube/config` when it exists, else none.
 */
function kubeconfigFiles(
  explicit: string | undefined,
  env: Record<string, string | undefined>,
  home: string,
): string[] {
  if (explicit) return [resolve(explicit)];
  if (env.KUBECONFIG)
    return [...new Set(env.KUBECONFIG.split(delimiter).filter(Boolean))]
      .map((file) => resolve(file))
      .filter(isFile);
  const config = join(home, '.kube', 'config');
  return isFile(config) ? [config] : [];
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** Merges the files as client-go does: the first file to name a cluster, user or context wins. */
function readKubeconfigs(files: string[]): Kubeconfig {
  const merged: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    const where = `kubeconfig ${file}`;
    let text: string;
    let document: unknown;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    try {
      document = parse(text) ?? {};
    } catch (error) {
      throw new Error(`${where}: not valid YAML: ${(error as Error).message}`);
    }
    if (!isRecord(document)) throw new Error(`${where}: not a mapping`);
    const current = document['current-context'];
    if (current !== undefined && current !== null && typeof current !== 'string')
      throw new Error(`${where}: current-context must be a string`);
    merged.currentContext ||= current || undefined;
    for (const [list, key] of LISTS) {
      const entries = document[list] ?? [];
      if (!Array.isArray(entries)) throw new Error(`${where}: ${list} must be a list`);
      const seen = new Set<string>();
      entries.forEach((entry: unknown, index) => {
        if (!isRecord(entry) || typeof entry.name !== 'string' || !entry.name)
          throw new Error(`${where}: ${list}[${index}] has no name`);
        const value = entry[key] ?? {};
        if (!isRecord(value))
          throw new Error(`${where}: ${list}[${index}].${key} is not a mapping`);
        if (seen.has(entry.name)) throw new Error(`${where}: two ${list} named '${entry.name}'`);
        seen.add(entry.name);
        if (!merged[list].has(entry.name))
          merged[list].set(entry.name, {
            name: entry.name,
            value,
            dir: dirname(file),
            where: `${where}: ${key} '${entry.name}'`,
          });
      });
    }
  }
  return merged;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(entry: Entry, name: string, type: 'string'): string | undefined;
function field(entry: Entry, name: string, type: 'boolean'): boolean | undefined;
function field(
  entry: Entry,
  name: string,
  type: 'string' | 'boolean',
): string | boolean | undefined {
  const value = entry.value[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== type) throw new Error(`${entry.where}: ${name} must be a ${type}`);
  return value as string | boolean;
}

/**
 * The bytes of `<name>-data` (base64, preferred as in client-go) or of the file `<name>`
 * (relative to the kubeconfig's folder); undefined when neither is set.
 */
function fileOrData(entry: Entry, name: string): Buffer | undefined {
  const data = field(entry, `${name}-data`, 'string');
  if (data !== undefined) {
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length === 0) throw new Error(`${entry.where}: ${name}-data is not base64`);
    return bytes;
  }
  const path = field(entry, name, 'string');
  return path === undefined ? undefined : readEntryFile(entry, name, resolve(entry.dir, path));
}

function readEntryFile(entry: Entry, name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${entry.where}: ${name} ${path}: ${(error as Error).message}`);
  }
}

function clusterTls(cluster: Entry): Pick<KubeCredentials, 'server' | 'tls'> {
  const server = field(cluster, 'server', 'string');
  if (!server) throw new Error(`${cluster.where} has no server`);
  const ca = fileOrData(cluster, 'certificate-authority');
  const insecure = field(cluster, 'insecure-skip-tls-verify', 'boolean');
  const servername = field(cluster, 'tls-server-name', 'string');
  return {
    server: server.replace(/\/$/, ''),
    tls: {
      ...(ca && { ca }),
      ...(insecure && { rejectUnauthorized: false }),
      ...(servername && { servername }),
    },
  };
}

/**
 * Token (or token file), client certificate and key, or basic auth, as client-go reads them;
 * a user with none of them is anonymous, as in client-go.
 */
function userIdentity(user: Entry): Pick<KubeCredentials, 'tls' | 'authorization'> {
  const cert = fileOrData(user, 'client-certificate');
  const key = fileOrData(user, 'client-key');
  if (!cert !== !key)
    throw new Error(
      `${user.where}: ${cert ? 'client-certificate without client-key' : 'client-key without client-certificate'}`,
    );
  const token = field(user, 'token', 'string');
  // client-go's field is tokenFile; client-node also read token-file.
  const tokenFileField = user.value.tokenFile !== undefined ? 'tokenFile' : 'token-file';
  const tokenFile = field(user, tokenFileField, 'string');
  const username = field(user, 'username', 'string');
  const password = field(user, 'password', 'string');
  if ((token || tokenFile) && (username || password))
    throw new Error(`${user.where}: has both a token and a username/password; only one is allowed`);
  let authorization: KubeCredentials['authorization'];
  if (token) {
    const value = `Bearer ${token}`;
    authorization = async () => value;
  } else if (tokenFile) {
    authorization = bearerFromFile(
      resolve(user.dir, tokenFile),
      `${user.where}: ${tokenFileField}`,
    );
  } else if (username || password) {
    const value = `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`;
    authorization = async () => value;
  }
  return { tls: cert && key ? { cert, key } : {}, ...(authorization && { authorization }) };
}

/**
 * `Bearer <the file's token>`, read now (a missing file fails here) and again at each call:
 * the token rotates. A read that fails later keeps the last token, as client-go does.
 */
function bearerFromFile(path: string, what: string): () => Promise<string> {
  const read = () => {
    try {
      const token = readFileSync(path, 'utf8').trim();
      if (!token) throw new Error('empty');
      return `Bearer ${token}`;
    } catch (error) {
      throw new Error(`${what} ${path}: ${(error as Error).message}`);
    }
  };
  let last = read();
  return async () => {
    try {
      last = read();
    } catch {
      // Mid-rotation or briefly unreadable: the last token is still the best guess.
    }
    return last;
  };
}

function inClusterCredentials(
  env: Record<string, string | undefined>,
  dir: string,
  searched: string,
): KubeCredentials {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error(
      `no kubeconfig (${searched}) and not in a cluster ` +
        '(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)',
    );
  const source = `service account ${dir}`;
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch (error) {
      throw new Error(`${source}: ${name}: ${(error as Error).message}`);
    }
  };
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace: serviceAccountNamespace(dir),
    tls: { ca: read('ca.crt') },
    authorization: bearerFromFile(join(dir, 'token'), `${source}: token`),
    source,
  };
}

function serviceAccountNamespace(dir: string): string {
  try {
    return readFileSync(join(dir, 'namespace'), 'utf8').trim() || 'default';
  } catch {
    return 'default';
  }
}

/**
 * A user with an `exec` plugin or an `auth-provider`: `@kubernetes/client-node` runs it (its
 * caching, its providers), given the cluster as read here. The server, CA and the user's own
 * client certificate are read here; a plugin may give a client certificate instead, and
 * gives the Authorization header.
 */
async function pluginCredentials(
  cluster: Entry,
  user: Entry,
  credentials: KubeCredentials,
): Promise<KubeCredentials> {
  if (user.value.exec !== undefined && user.value['auth-provider'] !== undefined)
    throw new Error(`${user.where}: exec and auth-provider cannot be used together`);
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  const token = field(user, 'token', 'string');
  config.loadFromClusterAndUser(
    {
      name: cluster.name,
      server: credentials.server,
      skipTLSVerify: credentials.tls.rejectUnauthorized === false,
    },
    {
      name: user.name,
      exec: user.value.exec,
      authProvider: user.value['auth-provider'],
      ...(token && { token }),
    },
  );
  const apply = async () => {
    const options: { headers: Record<string, string>; cert?: unknown; key?: unknown } = {
      headers: {},
    };
    try {
      await config.applyToHTTPSOptions(options);
    } catch (error) {
      throw new Error(`${user.where}: ${(error as Error).message}`, { cause: error });
    }
    return options;
  };
  // The first answer serves the first request too: no second run of the plugin at start.
  let pending: Awaited<ReturnType<typeof apply>> | undefined = await apply();
  const pem = (value: unknown) =>
    typeof value === 'string' || Buffer.isBuffer(value) ? value : undefined;
  const cert = pem(pending.cert) ?? fileOrData(user, 'client-certificate');
  const key = pem(pending.key) ?? fileOrData(user, 'client-key');
  return {
    ...credentials,
    tls: { ...credentials.tls, ...(cert && key && { cert, key }) },
    async authorization() {
      const options = pending ?? (await apply());
      pending = undefined;
      return options.headers.Authorization;
    },
  };
}
