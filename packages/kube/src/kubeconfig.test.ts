import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeClient } from './client.js';
import { type LoadKubeCredentialsOptions, loadKubeCredentials } from './kubeconfig.js';

// Counts imports of client-node: only exec and auth-provider users may load it (~80 MiB).
const clientNode = vi.hoisted(() => ({ imports: 0 }));
vi.mock('@kubernetes/client-node', async (importOriginal) => {
  clientNode.imports++;
  return importOriginal();
});

const root = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;

/** A fresh folder with `files` written in it (objects as YAML); returns its path. */
function folder(files: Record<string, string | object> = {}): string {
  const dir = join(root, `${folders++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : stringify(content));
  }
  return dir;
}

interface Fixture {
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
  namespace?: string;
}

/** A kubeconfig of one context `ctx` (cluster `c`, user `u`). */
function kubeconfig({ cluster = {}, user = { token: 't' }, namespace }: Fixture = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://10.1.2.3:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace } }],
    'current-context': 'ctx',
  };
}

/** Loads with no environment: no $KUBECONFIG, an empty home, no service account. */
function load(options: LoadKubeCredentialsOptions) {
  const empty = folder();
  return loadKubeCredentials({ env: {}, homeDir: empty, serviceAccountDir: empty, ...options });
}

const pem = (what: string) =>
  `-----BEGIN ${what}-----\n${what.toLowerCase()}\n-----END ${what}-----\n`;
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('loadKubeCredentials from a kubeconfig', () => {
  it('connects a user without credentials anonymously, as client-go does', async () => {
    const dir = folder({ config: kubeconfig({ user: {} }) });
    const credentials = await load({ kubeconfig: join(dir, 'config') });
    expect(credentials.server).toBe('https://10.1.2.3:6443');
    expect(credentials.authorization).toBeUndefined();
    expect(credentials.tls.cert).toBeUndefined();
  });

  it('reads server, TLS options, namespace and token without loading client-node', async () => {
    const dir = folder({
      config: kubeconfig({
        cluster: {
          server: 'https://api.example:6443/',
          'insecure-skip-tls-verify': true,
          'tls-server-name': 'kubernetes.default',
        },
        user: { token: 'secret-token' },
        namespace: 'research',
      }),
    });
    const credentials = await load({ kubeconfig: join(dir, 'config') });
    expect(credentials.server).toBe('https://api.example:6443');
    expect(credentials.namespace).toBe('research');
    expect(credentials.tls).toEqual({
      rejectUnauthorized: false,
      servername: 'kubernetes.default',
    });
    expect(await credentials.authorization?.()).toBe('Bearer secret-token');
    expect(clientNode.imports).toBe(0);
  });

  it('defaults the namespace to the service account, else default', async () => {
    const dir = folder({ config: kubeconfig(), 'sa/namespace': 'from-pod\n' });
    const kubeconfigPath = join(dir, 'config');
    expect((await load({ kubeconfig: kubeconfigPath })).namespace).toBe('default');
    const inPod = await load({ kubeconfig: kubeconfigPath, serviceAccountDir: join(dir, 'sa') });
    expect(inPod.namespace).toBe('from-pod');
  });

  it('re-reads a tokenFile (relative to the kubeconfig) as it rotates', async () => {
    const dir = folder({
      'kube/config': kubeconfig({ user: { tokenFile: 'token' } }),
      'kube/token': 'first\n',
    });
    const credentials = await load({ kubeconfig: join(dir, 'kube/config') });
    expect(await credentials.authorization?.()).toBe('Bearer first');
    writeFileSync(join(dir, 'kube/token'), 'second');
    expect(await credentials.authorization?.()).toBe('Bearer second');
    // Mid-rotation the file may be gone for a moment: the last token stays.
    rmSync(join(dir, 'kube/token'));
    expect(await credentials.authorization?.()).toBe('Bearer second');
  });

  it('fails at load when the tokenFile is missing, naming the file and field', async () => {
    const dir = folder({ config: kubeconfig({ user: { tokenFile: 'missing' } }) });
    await expect(load({ kubeconfig: join(dir, 'config') })).rejects.toThrow(
      `kubeconfig ${join(dir, 'config')}: user 'u': tokenFile ${join(dir, 'missing')}: ENOENT`,
    );
  });

  it('reads CA and client certificate from files relative to the kubeconfig', async () => {
    const dir = folder({
      'kube/config': kubeconfig({
        cluster: { 'certificate-authority': 'pki/ca.crt' },
        user: { 'client-certificate': 'pki/user.crt', 'client-key': `${root}/KEY_DIR/user.key` },
      }),
      'kube/pki/ca.crt': pem('CA'),
      'kube/pki/user.crt': pem('CERT'),
    });
    // An absolute path stays as it is.
    const keyDir = join(root, 'KEY_DIR');
    mkdirSync(keyDir, { recursive: true });
    writeFileSync(join(keyDir, 'user.key'), pem('KEY'));
    const credentials = await load({ kubeconfig: join(dir, 'kube/config') });
    expect(credentials.tls.ca?.toString()).toBe(pem('CA'));
    expect(credentials.tls.cert?.toString()).toBe(pem('CERT'));
    expect(credentials.tls.key?.toString()).toBe(pem('KEY'));
    expect(credentials.tls.rejectUnauthorized).toBeUndefined();
    // A client certificate alone authenticates: no Authorization header.
    expect(credentials.authorization).toBeUndefined();
  });

  it('prefers the -data fields (base64) to the files, as client-go does', async () => {
    const dir = folder({
      config: kubeconfig({
        cluster: {
          'certificate-authority-data': base64(pem('CA')),
          'certificate-authority': 'not-there.crt',
        },
        user: {
          'client-certificate-data': base64(pem('CERT')),
          'client-key-data': base64(pem('KEY')),
        },
      }),
    });
    const { tls } = await load({ kubeconfig: join(dir, 'config') });
    expect([tls.ca, tls.cert, tls.key].map(String)).toEqual([pem('CA'), pem('CERT'), pem('KEY')]);
  });

  it('sends basic auth for username and password', async () => {
    const dir = folder({ config: kubeconfig({ user: { username: 'ada', password: 'p:w' } }) });
    const credentials = await load({ kubeconfig: join(dir, 'config') });
    expect(await credentials.authorization?.()).toBe(`Basic ${base64('ada:p:w')}`);
  });

  it('uses the context given over the current one', async () => {
    const config = kubeconfig();
    config.clusters.push({ name: 'other', cluster: { server: 'https://other:443' } });
    config.contexts.push({
      name: 'second',
      context: { cluster: 'other', user: 'u', namespace: 'two' },
    });
    const dir = folder({ config });
    const credentials = await load({ kubeconfig: join(dir, 'config'), context: 'second' });
    expect([credentials.server, credentials.namespace]).toEqual(['https://other:443', 'two']);
    await expect(load({ kubeconfig: join(dir, 'config'), context: 'nope' })).rejects.toThrow(
      `kubeconfig ${join(dir, 'config')}: context 'nope' not found`,
    );
  });

  it('merges $KUBECONFIG: first file wins per name, first current-context wins', async () => {
    const one = folder({
      config: {
        clusters: [
          { name: 'c', cluster: { server: 'https://first:1', 'certificate-authority': 'ca' } },
        ],
        users: [{ name: 'u', user: { tokenFile: 'token' } }],
      },
      ca: pem('FIRST CA'),
      token: 'first-token',
    });
    const two = folder({
      config: {
        ...kubeconfig({ namespace: 'from-two' }),
        clusters: [
          { name: 'c', cluster: { server: 'https://second:2' } },
          { name: 'only-two', cluster: { server: 'https://only-two:2' } },
        ],
      },
    });
    const three = folder({ config: { ...kubeconfig(), 'current-context': 'elsewhere' } });
    const env = {
      KUBECONFIG: [
        join(one, 'config'),
        join(one, 'missing'),
        join(two, 'config'),
        join(three, 'config'),
      ].join(delimiter),
    };
    const credentials = await load({ env });
    // The context from the second file; cluster and user from the first, their paths
    // relative to the first file.
    expect(credentials.server).toBe('https://first:1');
    expect(credentials.namespace).toBe('from-two');
    expect(credentials.tls.ca?.toString()).toBe(pem('FIRST CA'));
    expect(await credentials.authorization?.()).toBe('Bearer first-token');
    expect(credentials.source).toContain(join(two, 'config'));
    expect(credentials.source).not.toContain('missing');
  });

  it('reads ~/.kube/config when $KUBECONFIG is unset', async () => {
    const home = folder({ '.kube/config': kubeconfig({ namespace: 'home' }) });
    const credentials = await load({ homeDir: home });
    expect(credentials.namespace).toBe('home');
    expect(credentials.source).toBe(`kubeconfig ${join(home, '.kube/config')}`);
  });

  it.each([
    [
      'no current context',
      { ...kubeconfig(), 'current-context': '' },
      ': no current-context set and no context given',
    ],
    ['an unknown user', { ...kubeconfig(), users: [] }, ": user 'u' of context 'ctx' not found"],
    [
      'an unknown cluster',
      { ...kubeconfig(), clusters: [] },
      ": cluster 'c' of context 'ctx' not found",
    ],
    [
      'a cluster without server',
      kubeconfig({ cluster: { server: '' } }),
      ": cluster 'c' has no server",
    ],
    [
      'a certificate without key',
      kubeconfig({ user: { 'client-certificate-data': base64('x') } }),
      ": user 'u': client-certificate without client-key",
    ],
    [
      'token and basic auth',
      kubeconfig({ user: { token: 't', username: 'a', password: 'b' } }),
      ": user 'u': has both a token and a username/password",
    ],
    [
      'a field of the wrong type',
      kubeconfig({ cluster: { 'insecure-skip-tls-verify': 'yes please' } }),
      ": cluster 'c': insecure-skip-tls-verify must be a boolean",
    ],
    [
      'a missing CA file',
      kubeconfig({ cluster: { 'certificate-authority': 'ca.crt' } }),
      ": cluster 'c': certificate-authority ",
    ],
  ])('fails clearly on %s, naming the file', async (_, config, message) => {
    const dir = folder({ config });
    await expect(load({ kubeconfig: join(dir, 'config') })).rejects.toThrow(
      `kubeconfig ${join(dir, 'config')}${message}`,
    );
  });

  it('fails when the explicit kubeconfig does not exist', async () => {
    const missing = join(root, 'no-such-config');
    await expect(load({ kubeconfig: missing })).rejects.toThrow(`kubeconfig ${missing}: ENOENT`);
  });
});

describe('loadKubeCredentials in a pod', () => {
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('reads the service account folder and re-reads its rotating token', async () => {
    const sa = folder({ token: 'pod-token-1', 'ca.crt': pem('CLUSTER CA'), namespace: 'jobs' });
    const credentials = await load({ env, serviceAccountDir: sa });
    expect(credentials.server).toBe('https://10.96.0.1:443');
    expect(credentials.namespace).toBe('jobs');
    expect(credentials.tls.ca?.toString()).toBe(pem('CLUSTER CA'));
    expect(await credentials.authorization?.()).toBe('Bearer pod-token-1');
    writeFileSync(join(sa, 'token'), 'pod-token-2');
    expect(await credentials.authorization?.()).toBe('Bearer pod-token-2');
  });

  it('brackets an IPv6 host and fails clearly without the service account', async () => {
    const sa = folder({ token: 't', 'ca.crt': pem('CA') });
    const v6 = await load({
      env: { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' },
      serviceAccountDir: sa,
    });
    expect(v6.server).toBe('https://[fd00::1]:443');
    expect(v6.namespace).toBe('default');
    const empty = folder();
    await expect(load({ env, serviceAccountDir: empty })).rejects.toThrow(
      `service account ${empty}: ca.crt: ENOENT`,
    );
  });

  it('says what it looked for when there is neither kubeconfig nor cluster', async () => {
    await expect(load({ env: { KUBECONFIG: join(root, 'none') } })).rejects.toThrow(
      `no kubeconfig ($KUBECONFIG (${join(root, 'none')}) names no existing file) and not in a cluster`,
    );
    await expect(load({})).rejects.toThrow(/\.kube\/config does not exist\) and not in a cluster/);
  });
});

describe('loadKubeCredentials with an exec plugin', () => {
  /** A plugin printing an ExecCredential; counts its runs in `<dir>/runs`. */
  function plugin(dir: string, status: object): { command: string; args: string[] } {
    const script = join(dir, 'plugin.mjs');
    writeFileSync(
      script,
      `import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(join(dir, 'runs'))}, 'x');
console.log(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: ${JSON.stringify(status)} }));
`,
    );
    chmodSync(script, 0o755);
    return { command: process.execPath, args: [script] };
  }

  it('falls back to client-node for the token and keeps the same server and TLS', async () => {
    const cluster = {
      server: 'https://eks.example:443',
      'certificate-authority': 'ca.crt',
      'tls-server-name': 'eks',
    };
    const dir = folder({ 'ca.crt': pem('EKS CA') });
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      interactiveMode: 'Never',
      ...plugin(dir, { token: 'exec-token' }),
    };
    writeFileSync(join(dir, 'token.yaml'), stringify(kubeconfig({ cluster, namespace: 'n' })));
    writeFileSync(
      join(dir, 'exec.yaml'),
      stringify(kubeconfig({ cluster, user: { exec }, namespace: 'n' })),
    );
    const byToken = await load({ kubeconfig: join(dir, 'token.yaml') });
    expect(clientNode.imports).toBe(0);
    const byExec = await load({ kubeconfig: join(dir, 'exec.yaml') });
    expect(clientNode.imports).toBe(1);
    expect(byExec.server).toBe(byToken.server);
    expect(byExec.namespace).toBe(byToken.namespace);
    expect(byExec.tls).toEqual(byToken.tls);
    expect(byExec.tls.ca?.toString()).toBe(pem('EKS CA'));
    expect(await byExec.authorization?.()).toBe('Bearer exec-token');
    // The answer at load serves the first request: the plugin ran once.
    expect(readFileSync(join(dir, 'runs'), 'utf8')).toBe('x');
  });

  it('takes a client certificate from the plugin', async () => {
    const dir = folder();
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      ...plugin(dir, { clientCertificateData: pem('EXEC CERT'), clientKeyData: pem('EXEC KEY') }),
    };
    writeFileSync(join(dir, 'config'), stringify(kubeconfig({ user: { exec } })));
    const credentials = await load({ kubeconfig: join(dir, 'config') });
    expect([credentials.tls.cert, credentials.tls.key]).toEqual([
      pem('EXEC CERT'),
      pem('EXEC KEY'),
    ]);
    expect(await credentials.authorization?.()).toBeUndefined();
  });

  it('names the user when the plugin fails', async () => {
    const dir = folder();
    const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: join(dir, 'absent') };
    writeFileSync(join(dir, 'config'), stringify(kubeconfig({ user: { exec } })));
    await expect(load({ kubeconfig: join(dir, 'config') })).rejects.toThrow(
      `kubeconfig ${join(dir, 'config')}: user 'u': `,
    );
  });
});

describe('loadKubeClient', () => {
  it('builds the client from the credentials', async () => {
    const dir = folder({ config: kubeconfig({ namespace: 'ns' }) });
    const client = await loadKubeClient({ kubeconfig: join(dir, 'config') });
    expect([client.server, client.namespace]).toEqual(['https://10.1.2.3:6443', 'ns']);
    client.close();
  });
});
