/**
 * `masksweep submit <sweep.yaml>`: what `kubectl apply -f` does for a Sweep, after the same
 * checks as `masksweep validate` (dataset folders aside: they live in a cluster volume),
 * then, with `--wait`, the Sweep's progress until it ends.
 */
import { readFileSync } from 'node:fs';
import { API_VERSION, loadSweepFile, parseSweepYaml, type SweepObject } from '@masksweep/api';
import { ConflictError, type KubeClient, loadKubeClient, NotFoundError } from '@masksweep/kube';
import { Command } from 'commander';
import { parseInteger } from '../options.js';

interface SubmitOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  wait?: boolean;
  timeout: number;
}

export function submitCommand(): Command {
  return new Command('submit')
    .description(
      'create or update a Sweep in a cluster (as kubectl apply), and with --wait follow it to its end',
    )
    .argument('<sweep.yaml>', 'a Sweep resource')
    .option(
      '--kubeconfig <file>',
      'default: $KUBECONFIG, ~/.kube/config, else the pod service account',
    )
    .option('--context <name>', "the kubeconfig's context")
    .option('-n, --namespace <name>', "default: the Sweep's, else the context's")
    .option('--wait', 'follow the Sweep until it succeeds (exit 0) or fails or is invalid (exit 1)')
    .option(
      '--timeout <seconds>',
      'with --wait: give up after this long (0: never)',
      parseInteger('--timeout', 0),
      0,
    )
    .action(async (file: string, options: SubmitOptions) => {
      // Checked here first: errors come with the file's line numbers, not the API server's.
      loadSweepFile(file, { checkData: false });
      const { value } = parseSweepYaml(readFileSync(file, 'utf8'), file);
      const manifest = value as SweepObject;
      const client = await loadKubeClient({
        kubeconfig: options.kubeconfig,
        context: options.context,
      });
      try {
        const namespace = options.namespace ?? manifest.metadata.namespace ?? client.namespace;
        const outcome = await applySweep(client, namespace, manifest);
        console.log(
          `sweep.masksweep.io/${manifest.metadata.name} ${outcome} in namespace ${namespace}`,
        );
        if (!options.wait) return;
        const ended = await followSweep(client, namespace, manifest.metadata.name, options.timeout);
        if (ended.status?.phase !== 'Succeeded') process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}

const sweepsPath = (namespace: string) => `/apis/${API_VERSION}/namespaces/${namespace}/sweeps`;

/** Creates the Sweep, or replaces the spec of the one there; says which. */
export async function applySweep(
  client: KubeClient,
  namespace: string,
  manifest: SweepObject,
): Promise<'created' | 'configured' | 'unchanged'> {
  const body = { ...manifest, metadata: { ...manifest.metadata, namespace } };
  try {
    await client.call('POST', sweepsPath(namespace), body);
    return 'created';
  } catch (error) {
    if (error instanceof NotFoundError)
      throw new Error(
        `the API server at ${client.server} has no Sweep resource: install the CRDs first (kubectl apply -f k8s/crds, or the Helm chart)`,
      );
    if (!(error instanceof ConflictError)) throw error;
  }
  const path = `${sweepsPath(namespace)}/${manifest.metadata.name}`;
  const current = await client.call<SweepObject>('GET', path);
  const updated = await client.call<SweepObject>('PUT', path, {
    ...current,
    metadata: {
      ...current.metadata,
      labels: manifest.metadata.labels ?? current.metadata.labels,
      annotations: manifest.metadata.annotations ?? current.metadata.annotations,
    },
    spec: manifest.spec,
  });
  return updated.metadata.generation === current.metadata.generation ? 'unchanged' : 'configured';
}

/** Prints each change of the Sweep's progress until it ends; returns it as it ended. */
async function followSweep(
  client: KubeClient,
  namespace: string,
  name: string,
  timeoutSeconds: number,
): Promise<SweepObject> {
  const path = `${sweepsPath(namespace)}/${name}`;
  const deadline =
    timeoutSeconds > 0 ? Date.now() + timeoutSeconds * 1000 : Number.POSITIVE_INFINITY;
  let generation: number | undefined;
  let last = '';
  for (;;) {
    const sweep = await client.call<SweepObject>('GET', path);
    generation ??= sweep.metadata.generation;
    const status = sweep.status;
    // A status from before this submit says nothing about it yet.
    const current =
      status?.observedGeneration !== undefined && status.observedGeneration >= (generation ?? 0);
    const line = current
      ? `${status?.phase} ${status?.progress ?? ''} trials succeeded, ${status?.trials?.running ?? 0} running, ${status?.trials?.failed ?? 0} failed${status?.bestTrial ? `, best ${status.bestTrial.name} (validation ${status.bestTrial.objective.toFixed(4)})` : ''}`
      : 'waiting for the controller';
    if (line !== last) console.log(`sweep ${name}: ${line}`);
    last = line;
    const phase = current ? status?.phase : undefined;
    if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Invalid') {
      for (const condition of status?.conditions ?? [])
        if (condition.status === 'True' && ['Failed', 'Invalid'].includes(condition.type))
          console.log(
            `sweep ${name}: ${condition.type} ${condition.reason}: ${condition.message ?? ''}`,
          );
      return sweep;
    }
    if (Date.now() > deadline)
      throw new Error(`sweep ${name} did not end within ${timeoutSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}
