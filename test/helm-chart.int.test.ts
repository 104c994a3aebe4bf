/**
 * The install chart helm/masksweep: rendered with the values a user would give (no helm
 * binary here: @masksweep/testing renders the chart's Go-template subset), checked document
 * by document, and applied to a real kube-apiserver 1.20, which validates every object and
 * answers RBAC questions about the controller's ServiceAccount.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NATS_AUTHORITY_KEYS } from '@masksweep/controller';
import { leaderboardConfig, writeTokenProblem } from '@masksweep/leaderboard';
import {
  type KubeApiServer,
  type RenderedDocument,
  renderChart,
  startKubeApiServer,
  waitForCrd,
} from '@masksweep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument, parse as parseYaml } from 'yaml';

const chartDir = fileURLToPath(new URL('../helm/masksweep/', import.meta.url));
const generatedCrdDir = fileURLToPath(new URL('../k8s/crds/', import.meta.url));
const chartCrdDir = `${chartDir}files/crds/`;

const RELEASE = 'ms';
const NAMESPACE = 'masksweep-system';
const WATCHED = 'research';
const TOKEN = 'a-long-random-write-token-of-at-least-43-characters';
const PREFIX = `${RELEASE}-masksweep`;

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: {
      secretKeyRef?: { name: string; key: string };
      fieldRef?: { fieldPath: string };
    };
  }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  securityContext?: Record<string, unknown>;
  resources?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface PodSpec {
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
  tolerations?: unknown[];
}

/** The fields of the chart's objects that the tests read. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
    ports?: { name: string; port: number }[];
    accessModes?: string[];
    resources?: { requests: { storage: string } };
    storageClassName?: string;
    endpoints?: { port: string }[];
  } & Partial<PodSpec>;
  data?: Record<string, string>;
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace: string }[];
}

interface Rendered extends RenderedDocument {
  manifest: Manifest;
}

type Values = Record<string, unknown>;

/** Renders release `ms` in masksweep-system; the leaderboard token is given unless overridden. */
function render(values: Values = {}, releaseName = RELEASE): Rendered[] {
  const leaderboard = { token: TOKEN, ...((values.leaderboard as Values | undefined) ?? {}) };
  return renderChart(chartDir, {
    releaseName,
    namespace: NAMESPACE,
    values: { ...values, leaderboard },
  }).map((document) => ({ ...document, manifest: parseStrictly(document) }));
}

/** YAML parse that fails on duplicate keys and warnings, naming the template. */
function parseStrictly(document: RenderedDocument): Manifest {
  const parsed = parseDocument(document.text, { uniqueKeys: true });
  const problems = [...parsed.errors, ...parsed.warnings];
  if (problems.length > 0)
    throw new Error(
      `${document.template} does not parse:\n${problems.join('\n')}\n${document.text}`,
    );
  return parsed.toJS() as Manifest;
}

function find(documents: Rendered[], kind: string, name: string): Manifest {
  const found = documents.find(
    (d) => d.manifest.kind === kind && d.manifest.metadata.name === name,
  );
  if (!found)
    throw new Error(
      `no ${kind} ${name} among ${documents.map((d) => `${d.manifest.kind}/${d.manifest.metadata.name}`).join(', ')}`,
    );
  return found.manifest;
}

function kindsAndNames(documents: Rendered[]): string[] {
  return documents.map((d) => `${d.manifest.kind}/${d.manifest.metadata.name}`).sort();
}

function container(manifest: Manifest): Container {
  const first = manifest.spec?.template?.spec.containers[0] ?? manifest.spec?.containers?.[0];
  if (!first) throw new Error(`${manifest.kind} ${manifest.metadata.name} has no container`);
  return first;
}

function controllerArgs(documents: Rendered[]): string[] {
  const deployment = documents.find(
    ({ manifest }) =>
      manifest.kind === 'Deployment' &&
      manifest.metadata.labels?.['app.kubernetes.io/component'] === 'controller',
  );
  if (!deployment) throw new Error('no Deployment of the controller');
  return container(deployment.manifest).args ?? [];
}

/** The value after `flag` in `args`, undefined when the flag is absent. */
function flagValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index === -1 ? undefined : args[index + 1];
}

function joined(documents: Rendered[]): string {
  return documents.map((d) => d.text).join('\n---\n');
}

/** The paths of every key of values.yaml, e.g. `controller.image.tag`. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => [
    `${prefix}${key}`,
    ...keyPaths(child, `${prefix}${key}.`),
  ]);
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  $ref?: string;
}

function schemaPaths(
  node: SchemaNode,
  definitions: Record<string, SchemaNode>,
  prefix = '',
): string[] {
  const resolved = node.$ref ? (definitions[node.$ref.replace('#/definitions/', '')] ?? {}) : node;
  return Object.entries(resolved.properties ?? {}).flatMap(([key, child]) => [
    `${prefix}${key}`,
    ...schemaPaths(child, definitions, `${prefix}${key}.`),
  ]);
}

describe('the masksweep chart, rendered', () => {
  // In a hook, so that a template error fails the tests with its message.
  let defaults: Rendered[];
  beforeAll(() => {
    defaults = render();
  });

  it('makes the CRDs, the controller, the leaderboard, storage, RBAC and the helm test', () => {
    expect(kindsAndNames(defaults)).toEqual(
      [
        'CustomResourceDefinition/sweeps.masksweep.io',
        'CustomResourceDefinition/trials.masksweep.io',
        `Deployment/${PREFIX}-controller`,
        `Service/${PREFIX}-controller-metrics`,
        `ServiceAccount/${PREFIX}-controller`,
        `ClusterRole/${PREFIX}-controller`,
        `ClusterRoleBinding/${PREFIX}-controller`,
        `Role/${PREFIX}-controller-leader-election`,
        `RoleBinding/${PREFIX}-controller-leader-election`,
        `PersistentVolumeClaim/${PREFIX}-artifacts`,
        `Secret/${PREFIX}-leaderboard-token`,
        `PersistentVolumeClaim/${PREFIX}-leaderboard`,
        `Deployment/${PREFIX}-leaderboard`,
        `Service/${PREFIX}-leaderboard`,
        `Pod/${PREFIX}-test-leaderboard`,
      ].sort(),
    );
  });

  it('labels every object with the release and its component; namespaced ones live in the release namespace', () => {
    const clusterScoped = new Set([
      'CustomResourceDefinition',
      'ClusterRole',
      'ClusterRoleBinding',
    ]);
    for (const { manifest, template } of defaults) {
      expect(manifest.metadata.labels, template).toMatchObject({
        'app.kubernetes.io/name': 'masksweep',
        'app.kubernetes.io/instance': RELEASE,
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/version': '0.1.0',
        'helm.sh/chart': 'masksweep-0.1.0',
      });
      expect(manifest.metadata.labels?.['app.kubernetes.io/component'], template).toMatch(/\w/);
      expect(manifest.metadata.namespace, `${manifest.kind} ${manifest.metadata.name}`).toBe(
        clusterScoped.has(manifest.kind) ? undefined : NAMESPACE,
      );
    }
  });

  it('runs the controller with its flags, from the image of the appVersion, with leader election', () => {
    const deployment = find(defaults, 'Deployment', `${PREFIX}-controller`);
    expect(deployment.spec?.replicas).toBe(2);
    const controller = container(deployment);
    expect(controller.image).toBe('ghcr.io/masksweep/masksweep:0.1.0');
    expect(controller.command).toEqual(['masksweep-controller']);
    expect(controller.args).toEqual([
      '--leader-elect',
      ...['--leader-election-namespace', NAMESPACE],
      '--all-namespaces',
      ...['--metrics-address', ':8080'],
      ...['--health-address', ':8081'],
      ...['--image', 'ghcr.io/masksweep/masksweep:0.1.0'],
      ...['--nats', `nats://${RELEASE}-nats.${NAMESPACE}.svc:4222`],
      ...['--nats-auth-secret', 'masksweep-nats-auth'],
      ...['--leaderboard', `${PREFIX}-leaderboard.${NAMESPACE}.svc:50051`],
      ...['--leaderboard-token-secret', `${PREFIX}-leaderboard-token`],
      ...['--leaderboard-token-secret-key', 'token'],
      ...['--artifacts-claim', `${PREFIX}-artifacts`],
      ...['--base-dir', '/data'],
    ]);
    expect(deployment.spec?.template?.spec.serviceAccountName).toBe(`${PREFIX}-controller`);
  });

  it('runs only commands the image has, with flags the controller accepts', async () => {
    // The image puts every workspace package's bin on PATH (see the Dockerfile).
    const bins = new Set(
      [
        'services/cli',
        'services/controller',
        'services/leaderboard',
        'services/trial-runner',
      ].flatMap((dir) =>
        Object.keys(
          (
            JSON.parse(
              readFileSync(
                fileURLToPath(new URL(`../${dir}/package.json`, import.meta.url)),
                'utf8',
              ),
            ) as {
              bin?: Record<string, string>;
            }
          ).bin ?? {},
        ),
      ),
    );
    const commands = defaults
      .flatMap(({ manifest }) => [
        ...(manifest.spec?.template?.spec.containers ?? []),
        ...(manifest.spec?.containers ?? []),
      ])
      .map((c) => c.command?.[0])
      .filter((command): command is string => command !== undefined);
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) expect(bins, command).toContain(command);
    // Flags are parsed before the kubeconfig is read: a refused flag exits 2, a missing kubeconfig 1.
    const run = spawnSync(
      process.execPath,
      [
        fileURLToPath(
          new URL('../services/controller/bin/masksweep-controller.js', import.meta.url),
        ),
        ...controllerArgs(defaults),
        ...['--kubeconfig', '/nonexistent/kubeconfig'],
      ],
      { encoding: 'utf8', env: { ...process.env, POD_NAMESPACE: NAMESPACE } },
    );
    expect(run.stderr).not.toMatch(/unknown option|error: option/);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('/nonexistent/kubeconfig');
  });

  it('points every address flag at an object the chart makes', () => {
    const args = controllerArgs(defaults);
    const [leaderboardHost, leaderboardPort] = (flagValue(args, '--leaderboard') ?? '').split(':');
    const leaderboard = find(defaults, 'Service', `${PREFIX}-leaderboard`);
    expect(leaderboardHost).toBe(
      `${leaderboard.metadata.name}.${leaderboard.metadata.namespace}.svc`,
    );
    expect(leaderboard.spec?.ports).toContainEqual(
      expect.objectContaining({ name: 'grpc', port: Number(leaderboardPort) }),
    );
    const artifacts = find(
      defaults,
      'PersistentVolumeClaim',
      flagValue(args, '--artifacts-claim') ?? '',
    );
    expect(artifacts.spec?.accessModes).toEqual(['ReadWriteMany']);
    expect(artifacts.spec?.resources?.requests.storage).toBe('100Gi');
  });

  it('gives the controller the token from the Secret, its namespace, probes, ports and a locked-down container', () => {
    const controller = container(find(defaults, 'Deployment', `${PREFIX}-controller`));
    const secret = find(defaults, 'Secret', `${PREFIX}-leaderboard-token`);
    const tokenRef = controller.env?.find((e) => e.name === 'MASKSWEEP_LEADERBOARD_TOKEN')
      ?.valueFrom?.secretKeyRef;
    expect(tokenRef?.name).toBe(secret.metadata.name);
    expect(Buffer.from(secret.data?.[tokenRef?.key ?? ''] ?? '', 'base64').toString()).toBe(TOKEN);
    expect(controller.env).toContainEqual({
      name: 'POD_NAMESPACE',
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    });
    expect(controller.ports).toEqual([
      expect.objectContaining({ name: 'metrics', containerPort: 8080 }),
      expect.objectContaining({ name: 'health', containerPort: 8081 }),
    ]);
    expect(controller.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(controller.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(controller.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    const metrics = find(defaults, 'Service', `${PREFIX}-controller-metrics`);
    expect(metrics.spec?.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 8080 })]);
    expect(metrics.spec?.selector).toEqual(
      find(defaults, 'Deployment', `${PREFIX}-controller`).spec?.selector?.matchLabels,
    );
  });

  it('elects a leader with several replicas or when asked, and not with one replica and election off', () => {
    const elects = (controller: Values) =>
      controllerArgs(render({ controller })).includes('--leader-elect');
    expect(elects({ replicas: 1, leaderElection: { enabled: false } })).toBe(false);
    expect(elects({ replicas: 1 })).toBe(true);
    expect(elects({ replicas: 3, leaderElection: { enabled: false } })).toBe(true);
    const single = render({ controller: { replicas: 1, leaderElection: { enabled: false } } });
    expect(find(single, 'Deployment', `${PREFIX}-controller`).spec?.replicas).toBe(1);
  });

  it('grants the controller a ClusterRole with exactly its verbs, and a Lease Role in the release namespace', () => {
    expect(find(defaults, 'ClusterRole', `${PREFIX}-controller`).rules).toEqual([
      {
        apiGroups: ['masksweep.io'],
        resources: ['sweeps', 'trials'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      {
        apiGroups: ['masksweep.io'],
        resources: ['sweeps/status', 'trials/status'],
        verbs: ['get', 'update', 'patch'],
      },
      {
        apiGroups: ['batch'],
        resources: ['jobs'],
        verbs: ['get', 'list', 'watch', 'create', 'delete'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create'] },
    ]);
    const binding = find(defaults, 'ClusterRoleBinding', `${PREFIX}-controller`);
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: `${PREFIX}-controller` });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: `${PREFIX}-controller`, namespace: NAMESPACE },
    ]);
    const leases = find(defaults, 'Role', `${PREFIX}-controller-leader-election`);
    expect(leases.metadata.namespace).toBe(NAMESPACE);
    expect(leases.rules).toContainEqual({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'list', 'watch', 'create', 'update'],
    });
    // The NATS authority Secret lives in the release namespace.
    expect(leases.rules).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      verbs: ['get', 'create'],
    });
  });

  it('authenticates NATS users unless natsAuth is off: the authority Secret, mounted where each reads it', () => {
    // The NATS server loads auth.conf from the Secret the controller creates.
    const values = parseYaml(readFileSync(`${chartDir}values.yaml`, 'utf8')) as {
      natsAuth: { secretName: string };
      nats: {
        config: { merge: Record<string, string> };
        container: { patch: Array<{ value: { name: string; mountPath: string } }> };
        podTemplate: {
          patch: Array<{
            value: { name: string; secret: { secretName: string; items: { key: string }[] } };
          }>;
        };
      };
    };
    const [volume] = values.nats.podTemplate.patch.map((p) => p.value);
    const [mount] = values.nats.container.patch.map((p) => p.value);
    expect(volume?.secret.secretName).toBe(values.natsAuth.secretName);
    expect(volume?.secret.items.map((i) => i.key)).toEqual([NATS_AUTHORITY_KEYS.serverConfig]);
    expect(mount?.name).toBe(volume?.name);
    expect(`/etc/nats-config/${values.nats.config.merge.$include}`).toBe(
      `${mount?.mountPath}/${NATS_AUTHORITY_KEYS.serverConfig}`,
    );
    // The leaderboard mounts its reader credentials only.
    const deployment = find(defaults, 'Deployment', `${PREFIX}-leaderboard`);
    const leaderboard = container(deployment);
    const credsFile = leaderboard.env?.find((e) => e.name === 'MASKSWEEP_NATS_CREDS')?.value;
    const credsMount = leaderboard.volumeMounts?.find((m) =>
      credsFile?.startsWith(`${m.mountPath}/`),
    );
    const credsVolume = deployment.spec?.template?.spec.volumes?.find(
      (v) => v.name === credsMount?.name,
    ) as { secret?: { secretName: string; items: { key: string; path: string }[] } } | undefined;
    expect(credsVolume?.secret).toEqual({
      secretName: values.natsAuth.secretName,
      items: [
        { key: NATS_AUTHORITY_KEYS.leaderboardCreds, path: NATS_AUTHORITY_KEYS.leaderboardCreds },
      ],
    });
    expect(credsFile).toBe(`${credsMount?.mountPath}/${NATS_AUTHORITY_KEYS.leaderboardCreds}`);

    const open = render({ natsAuth: { enabled: false } });
    expect(controllerArgs(open)).not.toContain('--nats-auth-secret');
    expect(JSON.stringify(find(open, 'Deployment', `${PREFIX}-leaderboard`))).not.toContain(
      'MASKSWEEP_NATS_CREDS',
    );
    expect(JSON.stringify(find(open, 'ClusterRole', `${PREFIX}-controller`))).not.toContain(
      'secrets',
    );
  });

  it('watching one namespace: a Role and RoleBinding there instead of cluster-wide ones', () => {
    const scoped = render({ controller: { watchNamespace: WATCHED } });
    const kinds = scoped.map((d) => d.manifest.kind);
    expect(kinds).not.toContain('ClusterRole');
    expect(kinds).not.toContain('ClusterRoleBinding');
    const role = find(scoped, 'Role', `${PREFIX}-controller`);
    expect(role.metadata.namespace).toBe(WATCHED);
    expect(role.rules).toEqual(find(defaults, 'ClusterRole', `${PREFIX}-controller`).rules);
    const binding = find(scoped, 'RoleBinding', `${PREFIX}-controller`);
    expect(binding.metadata.namespace).toBe(WATCHED);
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: `${PREFIX}-controller` });
    const args = controllerArgs(scoped);
    expect(flagValue(args, '--namespace')).toBe(WATCHED);
    expect(args).not.toContain('--all-namespaces');
  });

  it('renders the CRDs from the generated files, kept on uninstall unless crds.keep is false', () => {
    for (const file of ['sweeps.masksweep.io.yaml', 'trials.masksweep.io.yaml']) {
      const generated = parseYaml(readFileSync(`${generatedCrdDir}${file}`, 'utf8')) as Manifest;
      const rendered = find(defaults, 'CustomResourceDefinition', generated.metadata.name);
      expect({ ...rendered, metadata: generated.metadata }).toEqual(generated);
      expect(rendered.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    }
    const unkept = render({ crds: { keep: false } });
    const crd = find(unkept, 'CustomResourceDefinition', 'sweeps.masksweep.io');
    expect(crd.metadata.annotations).toBeUndefined();
    const none = render({ crds: { enabled: false } });
    expect(none.map((d) => d.manifest.kind)).not.toContain('CustomResourceDefinition');
    expect(none.length).toBe(defaults.length - 2);
  });

  it("keeps byte-equal copies of k8s/crds in the chart's files/crds", () => {
    const generated = readdirSync(generatedCrdDir).sort();
    const copied = readdirSync(chartCrdDir).sort();
    const fix =
      "the chart's CRDs drifted from k8s/crds: copy them again with " +
      '`npx masksweep crds --out k8s/crds && cp k8s/crds/*.yaml helm/masksweep/files/crds/`';
    expect(copied, fix).toEqual(generated);
    for (const file of generated)
      expect(readFileSync(`${chartCrdDir}${file}`, 'utf8'), `${file}: ${fix}`).toBe(
        readFileSync(`${generatedCrdDir}${file}`, 'utf8'),
      );
  });

  it('uses natsUrl when the NATS dependency is off, and demands it then', () => {
    const url = 'nats://nats.messaging.svc:4222';
    const external = render({ nats: { enabled: false }, natsUrl: url });
    expect(flagValue(controllerArgs(external), '--nats')).toBe(url);
    const leaderboard = container(find(external, 'Deployment', `${PREFIX}-leaderboard`));
    expect(leaderboard.env).toContainEqual({ name: 'MASKSWEEP_NATS_URL', value: url });
    // A natsUrl that is set wins over the dependency's Service too.
    expect(flagValue(controllerArgs(render({ natsUrl: url })), '--nats')).toBe(url);
    expect(() => render({ nats: { enabled: false } })).toThrow(
      'natsUrl: give the URL of a NATS server with JetStream when nats.enabled is false',
    );
  });

  it('names the NATS Service as the NATS chart does when the release name says nats', () => {
    const documents = render({}, 'nats-and-masksweep');
    expect(flagValue(controllerArgs(documents), '--nats') ?? '').toBe(
      `nats://nats-and-masksweep.${NAMESPACE}.svc:4222`,
    );
  });

  it('configures the leaderboard with exactly the environment its config reads', () => {
    const deployment = find(defaults, 'Deployment', `${PREFIX}-leaderboard`);
    expect(deployment.spec?.replicas).toBe(1);
    const leaderboard = container(deployment);
    expect(leaderboard.command).toEqual(['masksweep-leaderboard']);
    // The environment the pod would get, the Secret resolved, read by the service's own config.
    const env: Record<string, string> = {};
    for (const variable of leaderboard.env ?? [])
      env[variable.name] =
        variable.value ?? (variable.valueFrom?.secretKeyRef ? TOKEN : 'unresolved');
    expect(leaderboardConfig(env)).toMatchObject({
      database: '/var/lib/masksweep/leaderboard.db',
      token: TOKEN,
      grpcAddress: '0.0.0.0:50051',
      httpPort: 8080,
      natsUrl: `nats://${RELEASE}-nats.${NAMESPACE}.svc:4222`,
      natsCredentials: { credsFile: '/var/run/masksweep/nats/leaderboard.creds' },
      artifactsDir: '/artifacts',
    });
    expect(leaderboard.ports).toEqual([
      expect.objectContaining({ name: 'grpc', containerPort: 50051 }),
      expect.objectContaining({ name: 'http', containerPort: 8080 }),
    ]);
    expect(leaderboard.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // The database and the artifacts are on their claims; the root file system is read-only.
    const volumes = deployment.spec?.template?.spec.volumes ?? [];
    const claimAt = (path: string) => {
      const mount = leaderboard.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
      return volumes.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
    };
    expect(claimAt('/var/lib/masksweep/leaderboard.db')).toBe(`${PREFIX}-leaderboard`);
    expect(claimAt('/artifacts/checkpoint')).toBe(`${PREFIX}-artifacts`);
    expect(leaderboard.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
  });

  it('refuses to render without a leaderboard token, and uses an existing Secret when named', () => {
    expect(() => render({ leaderboard: { token: '' } })).toThrow(
      "leaderboard.token: set the leaderboard's write token",
    );
    // 32 random bytes at least, as the leaderboard checks at start-up.
    for (const token of ['x', 'c0ffee'.repeat(8), 'y'.repeat(42)]) {
      expect(() => render({ leaderboard: { token } }), token).toThrow(
        'leaderboard.token: too short; it needs 32 random bytes: 64 hex digits (openssl rand -hex 32)',
      );
      expect(writeTokenProblem(token)).toBeDefined();
    }
    for (const token of ['c0ffee00'.repeat(8), 'y'.repeat(43)]) {
      expect(render({ leaderboard: { token } }).length).toBeGreaterThan(0);
      expect(writeTokenProblem(token)).toBeUndefined();
    }
    const existing = render({
      leaderboard: { token: '', existingSecret: 'my-token', existingSecretKey: 'write' },
    });
    expect(existing.map((d) => d.manifest.kind)).not.toContain('Secret');
    for (const name of ['controller', 'leaderboard']) {
      const env = container(find(existing, 'Deployment', `${PREFIX}-${name}`)).env;
      expect(env?.find((e) => e.name === 'MASKSWEEP_LEADERBOARD_TOKEN')?.valueFrom).toEqual({
        secretKeyRef: { name: 'my-token', key: 'write' },
      });
    }
  });

  it('uses existing claims instead of making them, and passes the data claim on', () => {
    const documents = render({
      artifacts: { existingClaim: 'shared-artifacts' },
      leaderboard: { persistence: { existingClaim: 'leaderboard-db' } },
      data: { existingClaim: 'datasets' },
    });
    expect(documents.map((d) => d.manifest.kind)).not.toContain('PersistentVolumeClaim');
    const args = controllerArgs(documents);
    expect(flagValue(args, '--artifacts-claim')).toBe('shared-artifacts');
    expect(flagValue(args, '--data-claim')).toBe('datasets');
    expect(controllerArgs(defaults)).not.toContain('--data-claim');
    const volumes =
      find(documents, 'Deployment', `${PREFIX}-leaderboard`).spec?.template?.spec.volumes ?? [];
    expect(volumes.map((v) => v.persistentVolumeClaim?.claimName)).toEqual(
      expect.arrayContaining(['leaderboard-db', 'shared-artifacts']),
    );
  });

  it('runs trials from trialRunner.image when given, else from the controller image', () => {
    const image = (values: Values) => flagValue(controllerArgs(render(values)), '--image');
    expect(image({ controller: { image: { tag: 'v9' } } })).toBe('ghcr.io/masksweep/masksweep:v9');
    expect(image({ trialRunner: { image: { repository: 'example.com/trial-gpu' } } })).toBe(
      'example.com/trial-gpu:0.1.0',
    );
  });

  it('adds commonLabels everywhere and component labels and annotations to that component only', () => {
    const documents = render({
      commonLabels: { team: 'vision' },
      controller: { labels: { tier: 'control' }, annotations: { owner: 'ml-platform' } },
    });
    for (const { manifest } of documents)
      expect(manifest.metadata.labels?.team, manifest.metadata.name).toBe('vision');
    const isController = (m: Manifest) =>
      m.metadata.labels?.['app.kubernetes.io/component'] === 'controller';
    const controllerObjects = documents.map((d) => d.manifest).filter(isController);
    expect(controllerObjects.length).toBeGreaterThanOrEqual(6);
    for (const manifest of controllerObjects) {
      expect(manifest.metadata.labels?.tier).toBe('control');
      expect(manifest.metadata.annotations?.owner).toBe('ml-platform');
    }
    for (const manifest of documents.map((d) => d.manifest).filter((m) => !isController(m)))
      expect(manifest.metadata.labels?.tier, manifest.metadata.name).toBeUndefined();
    const podLabels = find(documents, 'Deployment', `${PREFIX}-controller`).spec?.template?.metadata
      .labels;
    expect(podLabels).toMatchObject({ team: 'vision', tier: 'control' });
  });

  it('makes a ServiceMonitor for the metrics Service only when asked', () => {
    expect(defaults.map((d) => d.manifest.kind)).not.toContain('ServiceMonitor');
    const documents = render({
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'prom' } } },
    });
    const monitor = find(documents, 'ServiceMonitor', `${PREFIX}-controller`);
    expect(monitor.metadata.labels?.release).toBe('prom');
    expect(monitor.spec?.endpoints).toEqual([expect.objectContaining({ port: 'metrics' })]);
    const metrics = find(documents, 'Service', `${PREFIX}-controller-metrics`);
    expect(metrics.metadata.labels).toMatchObject(
      monitor.spec?.selector?.matchLabels ?? { none: '' },
    );
  });

  it('has a helm test pod that lists results from the leaderboard Service over gRPC', () => {
    const pod = find(defaults, 'Pod', `${PREFIX}-test-leaderboard`);
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const command = container(pod).command ?? [];
    expect(command.slice(0, 2)).toEqual(['masksweep', 'leaderboard']);
    expect(flagValue(command, '--server')).toBe(
      flagValue(controllerArgs(defaults), '--leaderboard'),
    );
  });

  it('refuses values with an unknown key, at any level the chart defines', () => {
    expect(() => render({ controler: { replicas: 1 } })).toThrow(
      '- (root): Additional property controler is not allowed',
    );
    expect(() => render({ controller: { replica: 1 } })).toThrow(
      '- controller: Additional property replica is not allowed',
    );
    expect(() => render({ leaderboard: { persistence: { sise: '1Gi' } } })).toThrow(
      '- leaderboard.persistence: Additional property sise is not allowed',
    );
    expect(() => render({ artifacts: { size: 'big' } })).toThrow(
      '- artifacts.size: Does not match pattern',
    );
    // The NATS chart's values are its own: they pass through.
    expect(() => render({ nats: { config: { cluster: { enabled: true } } } })).not.toThrow();
  });

  it('documents every key of values.yaml with a comment, and declares each one in the schema', () => {
    const lines = readFileSync(`${chartDir}values.yaml`, 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (/^\s*[\w.-]+:/.test(line))
        expect(lines[index - 1], `values.yaml:${index + 1} ${line.trim()}`).toMatch(/^\s*#/);
    });
    const schema = JSON.parse(
      readFileSync(`${chartDir}values.schema.json`, 'utf8'),
    ) as SchemaNode & {
      definitions: Record<string, SchemaNode>;
    };
    const values = parseYaml(readFileSync(`${chartDir}values.yaml`, 'utf8')) as Values;
    const documented = keyPaths(values).filter(
      (path) => !path.startsWith('nats.') || path === 'nats.enabled',
    );
    const declared = schemaPaths(schema, schema.definitions).filter((path) => path !== 'global');
    expect(documented.filter((path) => !declared.includes(path))).toEqual([]);
    // What the schema declares below a key that values.yaml leaves empty ({}), such as
    // resources.limits, is for the user to fill in; everything else is in values.yaml.
    const valueAt = (path: string) =>
      path.split('.').reduce<unknown>((node, key) => (node as Values | undefined)?.[key], values);
    const undocumented = declared.filter(
      (path) =>
        !documented.includes(path) &&
        JSON.stringify(valueAt(path.replace(/\.[^.]+$/, ''))) !== '{}',
    );
    expect(undocumented).toEqual([]);
  });
});

describe('the masksweep chart, applied to kube-apiserver 1.20', () => {
  let server: KubeApiServer;
  beforeAll(async () => {
    server = await startKubeApiServer();
    for (const namespace of [NAMESPACE, WATCHED]) {
      const created = await server.kubectl(['create', 'namespace', namespace]);
      expect(created.code, created.stderr).toBe(0);
    }
  }, 90_000);
  afterAll(() => server?.stop());

  /** `kind.group/name` as kubectl prints it with `-o name`. */
  const kubectlName = ({ manifest }: Rendered) => {
    const group = manifest.apiVersion.includes('/') ? manifest.apiVersion.split('/')[0] : '';
    return `${manifest.kind.toLowerCase()}${group ? `.${group}` : ''}/${manifest.metadata.name}`;
  };

  const apply = async (documents: Rendered[], ...flags: string[]) => {
    const result = await server.kubectl(
      ['apply', '-o', 'name', ...flags, '-f', '-'],
      joined(documents),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(documents.map(kubectlName).sort());
  };

  const canI = async (verb: string, resource: string, namespace: string, release = RELEASE) => {
    const result = await server.kubectl([
      'auth',
      'can-i',
      verb,
      resource,
      '--namespace',
      namespace,
      `--as=system:serviceaccount:${NAMESPACE}:${release}-masksweep-controller`,
    ]);
    return result.stdout.trim();
  };

  it('accepts every object of the default release: the CRDs first, then the rest', async () => {
    const documents = render();
    const isCrd = (d: Rendered) => d.manifest.kind === 'CustomResourceDefinition';
    await apply(documents.filter(isCrd));
    for (const crd of documents.filter(isCrd)) await waitForCrd(server, crd.manifest.metadata.name);
    await apply(documents.filter((d) => !isCrd(d)));

    const stored = await server.kubectl([
      'get',
      'deployment',
      `${PREFIX}-controller`,
      '--namespace',
      NAMESPACE,
      '-o',
      'json',
    ]);
    expect(stored.code, stored.stderr).toBe(0);
    const deployment = JSON.parse(stored.stdout) as Manifest;
    expect(container(deployment).args).toEqual(controllerArgs(documents));
  });

  it('lets the ServiceAccount do what the controller needs in every namespace, and no more', async () => {
    for (const namespace of [WATCHED, 'default']) {
      expect(await canI('create', 'sweeps.masksweep.io', namespace)).toBe('yes');
      expect(await canI('patch', 'trials.masksweep.io/status', namespace)).toBe('yes');
      expect(await canI('create', 'jobs.batch', namespace)).toBe('yes');
      expect(await canI('get', 'pods/log', namespace)).toBe('yes');
      expect(await canI('delete', 'pods', namespace)).toBe('no');
      // Each Sweep's NATS credentials: it makes and reads them, lists or changes none.
      expect(await canI('create', 'secrets', namespace)).toBe('yes');
      expect(await canI('get', 'secrets', namespace)).toBe('yes');
      expect(await canI('list', 'secrets', namespace)).toBe('no');
      expect(await canI('update', 'secrets', namespace)).toBe('no');
      expect(await canI('delete', 'secrets', namespace)).toBe('no');
    }
    expect(await canI('update', 'leases.coordination.k8s.io', NAMESPACE)).toBe('yes');
    expect(await canI('update', 'leases.coordination.k8s.io', WATCHED)).toBe('no');
  });

  it('accepts a second release that watches one namespace, with the CRDs left to the first', async () => {
    const release = 'scoped';
    const documents = render(
      { controller: { watchNamespace: WATCHED, replicas: 1 }, crds: { enabled: false } },
      release,
    );
    await apply(documents);
    expect(await canI('create', 'jobs.batch', WATCHED, release)).toBe('yes');
    expect(await canI('create', 'jobs.batch', 'default', release)).toBe('no');
    expect(await canI('list', 'sweeps.masksweep.io', 'default', release)).toBe('no');
  });

  it('accepts the overrides a user would give, in a server-side dry run', async () => {
    // Another release: most of these overrides change fields of a claim that are immutable.
    const release = 'custom';
    const documents = render(
      {
        crds: { keep: false },
        nats: { enabled: false },
        natsUrl: 'nats://nats.messaging.svc:4222',
        controller: {
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
          tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          podAnnotations: { 'prometheus.io/scrape': 'true' },
        },
        leaderboard: { service: { type: 'NodePort' }, persistence: { storageClass: '-' } },
        artifacts: { storageClass: 'nfs-client', size: '2Ti' },
      },
      release,
    );
    await apply(documents, '--dry-run=server');
    const found = await server.kubectl([
      'get',
      'deployments',
      '--namespace',
      NAMESPACE,
      '-o',
      'name',
    ]);
    expect(found.stdout).not.toContain(release);
  });

  it('refuses, on the server, what passes the values schema but not Kubernetes', async () => {
    const documents = render({ controller: { resources: { limits: { cpu: 'lots' } } } });
    const deployment = documents.filter(
      (d) =>
        d.manifest.kind === 'Deployment' && d.manifest.metadata.name === `${PREFIX}-controller`,
    );
    const result = await server.kubectl(
      ['apply', '--dry-run=server', '-f', '-'],
      joined(deployment),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/quantities must match the regular expression/);
  });

  it('serves Sweeps through the CRDs the chart installed', async () => {
    const example = fileURLToPath(new URL('../k8s/examples/paper.yaml', import.meta.url));
    const result = await server.kubectl([
      'apply',
      '--dry-run=server',
      '--namespace',
      WATCHED,
      '-f',
      example,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('sweep.masksweep.io/paper created (server dry run)\n');
  });
});
