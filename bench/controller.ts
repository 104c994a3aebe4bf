/**
 * The Kubernetes controller at sweep scale, against a real kube-apiserver 1.20 with its own
 * etcd (docs/kubernetes.md#the-test-api-server). The controller runs as its own process, the built
 * `masksweep-controller` binary (`npm run build` first), so that its memory is its own; the
 * bench plays the Job controller and kubelet (runJobs of @masksweep/testing) and watches.
 *
 * 1. First Jobs: from `kubectl apply` of a 1,000-trial Sweep to the first Job, and to the
 *    whole first wave (min(parallelism, pre-training keys) pre-training Jobs), as the bench
 *    sees them arrive on its own watch of Jobs. Each repeat has a new namespace and a new
 *    controller process. Target: first Job < 2 s (Katib: about a minute).
 * 2. Bookkeeping: a 10,000-trial Sweep whose workloads succeed at once, from apply until the
 *    Sweep is Succeeded; the controller's reconcile time (its /metrics) per transition (a
 *    Trial status written). Target < 10 ms per transition (Ray Tune: about 9 ms per trial).
 *    Beside it, per transition: the wall time, the controller's CPU and the CPU of
 *    kube-apiserver and etcd, and the busy CPU of the rest of the machine (it is shared):
 *    a pass waits on its API writes, so on 2 cores the API server's CPU sets the wall time.
 * 3. The controller process's peak RSS (VmHWM) at the end of that sweep, and its peak heap
 *    (its /metrics, sampled every 2 s). Target < 300 MB.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AugmentationType,
  expandSweep,
  finetuneTerminationMessage,
  parseSweepYaml,
  type SweepObject,
  validateSweep,
} from '@masksweep/api';
import { tinySweepYaml } from '@masksweep/api/test-support';
import { LABELS } from '@masksweep/controller';
import { spawnEndingWithParent } from '@masksweep/process';
import {
  applyCrds,
  type KubeApiServer,
  type KubeObject,
  runJobs,
  startKubeApiServer,
} from '@masksweep/testing';
import { type Benchmark, positiveInteger } from './benchmark.js';
import {
  machineCpuSeconds,
  median,
  percentile,
  processCpuSeconds,
  processMemoryMiB,
} from './measure.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CONTROLLER_DIR = join(ROOT, 'services/controller');
const CONTROLLER_BIN = join(CONTROLLER_DIR, 'bin/masksweep-controller.js');
const MANAGED = `${LABELS.managedBy}=masksweep-controller`;

/** The grid's mask ratios and augmentations: 25 configs, 5 sharing each pre-training key. */
export const RATIOS = [0.5, 0.6, 0.7, 0.75, 0.8] as const;
export const AUGMENTATIONS: AugmentationType[] = [
  'none',
  'randomResizedCrop',
  'randomFlip',
  'mixup',
  'cutmix',
];
export const CONFIGS = RATIOS.length * AUGMENTATIONS.length;

/**
 * A Sweep of exactly `trials` trials (a multiple of 25): SparK with a random mask at 5 ratios
 * x 5 augmentations x trials/25 seeds; each (ratio, seed) is one pre-training key, so there
 * are trials/5 keys. The budgets are never read: the bench's pods succeed at once.
 */
export function sweepManifest(name: string, trials: number, parallelism: number): string {
  if (!Number.isInteger(trials / CONFIGS) || trials <= 0)
    throw new RangeError(`trials must be a positive multiple of ${CONFIGS}, got ${trials}`);
  return tinySweepYaml(name, {
    masks: [{ type: 'random', ratios: [...RATIOS] }],
    augmentations: AUGMENTATIONS.map((type) => ({ type })),
    seeds: Array.from({ length: trials / CONFIGS }, (_, i) => i),
    parallelism,
  });
}

/** The trials and pre-training keys the manifest expands to, as the controller expands it. */
export function expansionOf(manifest: string): { trials: number; pretrainKeys: number } {
  const trials = expandSweep(validateSweep(parseSweepYaml(manifest).value, { checkData: false }));
  return {
    trials: trials.length,
    pretrainKeys: new Set(trials.flatMap((t) => t.pretrainKey ?? [])).size,
  };
}

/**
 * The sum of a metric's samples in Prometheus text format, over the series whose labels
 * include `labels` (e.g. `result="ok"`); 0 when none.
 */
export function metricSum(text: string, name: string, labels: string[] = []): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const close = rest.indexOf('}');
    const series = rest[0] === '{' ? rest.slice(1, close) : '';
    if (!labels.every((label) => series.split(',').includes(label))) continue;
    sum += Number(
      rest
        .slice(rest[0] === '{' ? close + 1 : 0)
        .trim()
        .split(' ')[0],
    );
  }
  return sum;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The built controller files older than their sources (the bench runs the build). */
function staleBuild(): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !/\.test(-support)?\.ts$/.test(entry.name)) {
        const built = join(CONTROLLER_DIR, 'dist', relative(join(CONTROLLER_DIR, 'src'), path));
        const js = built.replace(/\.ts$/, '.js');
        if (!existsSync(js) || statSync(js).mtimeMs < statSync(path).mtimeMs)
          stale.push(relative(ROOT, path));
      }
    }
  };
  walk(join(CONTROLLER_DIR, 'src'));
  return stale;
}

interface ControllerProcess {
  pid: number;
  metrics(): Promise<string>;
  /** From /proc/<pid>/status, MiB. */
  memory(): { rssMiB: number; peakRssMiB: number };
  /** User + system CPU seconds so far, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  errors: string[];
  warnings: number;
  /**
   * SIGTERM, then waits for the exit (a CPU profile is written then), SIGKILL after 3 min;
   * how it ended (`exit 0`, `SIGKILL`) and how long that took.
   */
  stop(): Promise<{ exit: string; seconds: number }>;
}

/** Starts the controller binary on `namespace`; resolves once its informers are synced. */
async function startController(
  server: KubeApiServer,
  namespace: string,
  profileDir: string | undefined,
): Promise<ControllerProcess> {
  // Ends with the bench even when the bench is killed (exec: the controller keeps the pid).
  const child: ChildProcess = spawnEndingWithParent(
    process.execPath,
    [
      // Every 5 ms: a profile of a 40-minute run stays small.
      ...(profileDir
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=5000']
        : []),
      CONTROLLER_BIN,
      ...['--kubeconfig', server.kubeconfigPath, '--namespace', namespace],
      ...['--image', 'masksweep:bench', '--retry-backoff-ms', '100'],
      ...['--metrics-address', '127.0.0.1:0'],
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  const pid = child.pid as number;
  const errors: string[] = [];
  let warnings = 0;
  let metricsAddress: string | undefined;
  let tail = '';
  const exited: Promise<string> = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)),
  );
  const started = new Promise<void>((resolve, reject) => {
    let buffer = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        tail = `${tail}\n${line}`.slice(-2000);
        if (line.includes('"level":"error"')) errors.push(line);
        else if (line.includes('"level":"warn"')) warnings += 1;
        if (line.includes('"msg":"serving"'))
          metricsAddress = (JSON.parse(line) as { address: string }).address;
        if (line.includes('"msg":"controller started"')) resolve();
      }
    });
    exited.then((code) =>
      reject(new Error(`masksweep-controller exited with ${code} before it started:${tail}`)),
    );
  });
  try {
    await Promise.race([
      started,
      sleep(60_000).then(() => {
        throw new Error(`masksweep-controller did not start within 60 s:${tail}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    pid,
    errors,
    get warnings() {
      return warnings;
    },
    async metrics() {
      const response = await fetch(`http://${metricsAddress}/metrics`);
      return response.text();
    },
    memory: () => processMemoryMiB(pid),
    cpuSeconds: () => processCpuSeconds(pid),
    async stop() {
      const start = performance.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const exit = await Promise.race([exited, sleep(180_000).then(() => 'timeout')]);
      if (exit === 'timeout') child.kill('SIGKILL');
      return {
        exit: exit === 'timeout' ? `${await exited} after 180 s` : exit,
        seconds: round((performance.now() - start) / 1000),
      };
    },
  };
}

/** kube-apiserver and etcd of `server` (their arguments name its folder), by name. */
function serverProcesses(server: KubeApiServer): Map<string, number> {
  const found = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const name = basename(argv[0] as string);
    if ((name === 'etcd' || name === 'kube-apiserver') && argv.some((a) => a.includes(server.dir)))
      found.set(name, Number(entry));
  }
  return found;
}

/** CPU seconds used by kube-apiserver and etcd from now until the returned function is called. */
function serverCpu(server: KubeApiServer): () => Record<string, number> {
  const processes = serverProcesses(server);
  const before = new Map([...processes].map(([name, pid]) => [name, processCpuSeconds(pid)]));
  return () =>
    Object.fromEntries(
      [...processes].map(([name, pid]) => [
        name,
        round(processCpuSeconds(pid) - (before.get(name) as number), 2),
      ]),
    );
}

/**
 * What the API server alone gives: `writes` merge patches of Trial statuses (the
 * controller's commonest write), `concurrency` at once (the controller's writeConcurrency).
 */
async function apiBaseline(
  server: KubeApiServer,
  namespace: string,
  writes: number,
  concurrency: number,
) {
  const path = `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/trials`;
  const listed = await server.request<{ items: KubeObject[] }>('GET', path);
  const names = listed.body.items.map((trial) => trial.metadata.name);
  if (names.length === 0) throw new Error(`no Trials in ${namespace} to patch`);
  const latencies: number[] = [];
  let next = 0;
  const cpu = serverCpu(server);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < writes; i = next++) {
        const began = performance.now();
        const response = await server.request(
          'PATCH',
          `${path}/${names[i % names.length]}/status`,
          { status: { message: `baseline ${i}` } },
        );
        if (response.status !== 200)
          throw new Error(
            `PATCH status answered ${response.status}: ${JSON.stringify(response.body)}`,
          );
        latencies.push(performance.now() - began);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpu();
  return {
    writes,
    concurrency,
    serverCpuMsPerWrite: Object.fromEntries(
      Object.entries(cpuSeconds).map(([name, used]) => [name, round((used * 1000) / writes, 2)]),
    ),
    writesPerSecond: Math.round(writes / seconds),
    msPerWrite: round((seconds * 1000) / writes, 3),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

async function createNamespace(server: KubeApiServer, namespace: string): Promise<void> {
  const created = await server.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  });
  if (created.status !== 201)
    throw new Error(`creating namespace ${namespace}: ${created.status} ${created.body}`);
}

/** Removes what a run left (no garbage collector runs on the test server). */
async function clearNamespace(server: KubeApiServer, namespace: string): Promise<void> {
  for (const path of [
    `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/sweeps`,
    `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/trials`,
    `/apis/batch/v1/namespaces/${namespace}/jobs`,
    `/api/v1/namespaces/${namespace}/pods`,
  ])
    await server.request('DELETE', path);
}

/**
 * Follows the objects at `path` (a collection) from now on, calling `onAdded` once per new
 * object with the time it was first seen; returns once the watch request is sent, with the
 * watch's end. A watch the server closes (it drops watchers that fall behind) is resumed
 * from the last version seen, or after a relist when that version is too old.
 */
async function watchAdded(
  server: KubeApiServer,
  path: string,
  signal: AbortSignal,
  onAdded: (object: KubeObject, at: number) => void,
): Promise<{ done: Promise<void>; restarts: () => number }> {
  const seen = new Set<string>();
  const list = async (initial: boolean) => {
    const listed = await server.request<{
      items: KubeObject[];
      metadata: { resourceVersion: string };
    }>('GET', path);
    if (listed.status !== 200) throw new Error(`listing ${path}: ${listed.status}`);
    const at = performance.now();
    for (const object of listed.body.items) {
      const uid = object.metadata.uid as string;
      if (seen.has(uid)) continue;
      seen.add(uid);
      if (!initial) onAdded(object, at);
    }
    return listed.body.metadata.resourceVersion;
  };
  let resourceVersion: string | undefined = await list(true);
  let restarts = -1;
  const follow = async (version: string) => {
    restarts += 1;
    const events = server.watch(
      `${path}?watch=1&allowWatchBookmarks=true&resourceVersion=${version}`,
      signal,
    );
    for await (const event of events) {
      const at = performance.now();
      if (event.type === 'ERROR') {
        if ((event.object as { code?: number }).code !== 410)
          throw new Error(`watching ${path}: ${JSON.stringify(event.object)}`);
        resourceVersion = undefined;
        return;
      }
      resourceVersion = event.object.metadata.resourceVersion;
      const uid = event.object.metadata.uid as string;
      if (event.type === 'ADDED' && !seen.has(uid)) {
        seen.add(uid);
        onAdded(event.object, at);
      }
    }
  };
  // The first request goes out now; later ones when the server ends a watch.
  const first = follow(resourceVersion);
  const done = (async () => {
    await first;
    while (!signal.aborted) {
      await sleep(100);
      await follow(resourceVersion ?? (await list(false)));
    }
  })().catch((error: Error) => {
    if (!signal.aborted) throw error;
  });
  return { done, restarts: () => Math.max(0, restarts) };
}

async function apply(server: KubeApiServer, manifest: string, namespace: string) {
  const applied = await server.kubectl(['apply', '-n', namespace, '-f', '-'], manifest);
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);
}

interface WaveRun {
  kubectlApplyMs: number;
  sweepSeenMs: number;
  firstJobMs: number;
  firstWaveMs: number;
  allTrialsMs: number;
  /** Until the controller's passes stopped (statuses written): within a second. */
  settledMs: number;
  /** Watches of the bench that the server ended and the bench resumed. */
  watchRestarts: number;
  jobs: number;
  trials: number;
  passes: number;
  reconcileSeconds: number;
  controllerPeakRssMiB: number;
}

/** Part 1: apply a Sweep, time the first Job and the first wave as seen on a watch. */
async function waveRun(
  server: KubeApiServer,
  namespace: string,
  trials: number,
  parallelism: number,
  firstWave: number,
  timeoutMs: number,
  /** Run with the Trials still there and the controller stopped. */
  baseline?: () => Promise<Awaited<ReturnType<typeof apiBaseline>>>,
): Promise<{ run: WaveRun; baseline?: Awaited<ReturnType<typeof apiBaseline>> }> {
  await createNamespace(server, namespace);
  const controller = await startController(server, namespace, undefined);
  const watching = new AbortController();
  try {
    const jobTimes: number[] = [];
    const trialTimes: number[] = [];
    let sweepSeen = Number.NaN;
    const follows = await Promise.all([
      watchAdded(server, `/apis/batch/v1/namespaces/${namespace}/jobs`, watching.signal, (_, at) =>
        jobTimes.push(at),
      ),
      watchAdded(
        server,
        `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/trials`,
        watching.signal,
        (_, at) => trialTimes.push(at),
      ),
      watchAdded(
        server,
        `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/sweeps`,
        watching.signal,
        (_, at) => {
          sweepSeen = at;
        },
      ),
    ]);
    // The watch requests are on their way; let them reach the server before the clock starts.
    await sleep(500);
    const start = performance.now();
    await apply(server, sweepManifest('wave', trials, parallelism), namespace);
    const applied = performance.now();
    const deadline = Date.now() + timeoutMs;
    let lastReport = performance.now();
    while (jobTimes.length < firstWave || trialTimes.length < trials) {
      if (performance.now() - lastReport > 5000) {
        lastReport = performance.now();
        console.error(
          `  ${round((lastReport - start) / 1000)} s: ${jobTimes.length}/${firstWave} Jobs, ${trialTimes.length}/${trials} Trials`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `after ${timeoutMs} ms: ${jobTimes.length}/${firstWave} Jobs, ${trialTimes.length}/${trials} Trials`,
        );
      await sleep(20);
    }
    // Nothing ends, so nothing more may start: more Jobs would be a bug. The pass that
    // created the Trials goes on to write their statuses: wait until the controller is idle.
    const passesOf = async () =>
      metricSum(await controller.metrics(), 'masksweep_controller_reconciles_total');
    let passes = -1;
    for (let now = await passesOf(); now === 0 || now !== passes; now = await passesOf()) {
      if (Date.now() > deadline)
        throw new Error(`the controller did not settle in ${timeoutMs} ms`);
      passes = now;
      await sleep(1000);
    }
    const settled = performance.now();
    const metrics = await controller.metrics();
    const run: WaveRun = {
      kubectlApplyMs: round(applied - start),
      sweepSeenMs: round(sweepSeen - start),
      firstJobMs: round((jobTimes[0] as number) - start),
      firstWaveMs: round((jobTimes[firstWave - 1] as number) - start),
      allTrialsMs: round((trialTimes[trials - 1] as number) - start),
      settledMs: round(settled - start),
      watchRestarts: follows.reduce((sum, follow) => sum + follow.restarts(), 0),
      jobs: jobTimes.length,
      trials: trialTimes.length,
      passes: metricSum(metrics, 'masksweep_controller_reconciles_total', ['result="ok"']),
      reconcileSeconds: round(
        metricSum(metrics, 'masksweep_controller_reconcile_duration_seconds_sum'),
        3,
      ),
      controllerPeakRssMiB: controller.memory().peakRssMiB,
    };
    if (run.jobs !== firstWave)
      throw new Error(`the controller created ${run.jobs} Jobs, the first wave is ${firstWave}`);
    if (controller.errors.length > 0)
      throw new Error(`the controller logged errors: ${controller.errors.slice(0, 3).join('\n')}`);
    watching.abort();
    await Promise.all(follows.map((follow) => follow.done));
    await controller.stop();
    return { run, baseline: baseline ? await baseline() : undefined };
  } finally {
    watching.abort();
    await controller.stop();
    await clearNamespace(server, namespace);
  }
}

/** Part 2 and 3: a whole sweep of instant successes, with the controller's figures. */
async function bookkeepingRun(
  server: KubeApiServer,
  namespace: string,
  trials: number,
  parallelism: number,
  expected: { pretrainKeys: number },
  timeoutMs: number,
  profileDir: string | undefined,
) {
  await createNamespace(server, namespace);
  const metricF1 = (name: string) => {
    // A value per trial, so the best trial is one trial.
    let hash = 0;
    for (const c of name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    return (hash % 10_000) / 10_000;
  };
  const runner = await runJobs(server, {
    namespace,
    labelSelector: MANAGED,
    run: async (job) => ({
      exitCode: 0,
      message: finetuneTerminationMessage({ f1: metricF1(job.metadata.name) }),
    }),
  });
  const controller = await startController(server, namespace, profileDir);
  const harnessCpuBefore = process.cpuUsage();
  const serverCpuOf = serverCpu(server);
  // Not its start-up (loading modules, listing empty collections).
  const controllerCpuBefore = controller.cpuSeconds();
  const machineCpuBefore = machineCpuSeconds();
  const loads: number[] = [];
  // The controller's heap (its /metrics), sampled: what RSS is made of.
  const heap = { usedMiB: 0, totalMiB: 0, externalMiB: 0, samples: 0 };
  const sampleHeap = async () => {
    // A sample lost (the controller busy or paused for a heap snapshot) is skipped.
    const text = await controller.metrics().catch(() => undefined);
    if (text === undefined) return;
    const mib = (name: string) => Math.round(metricSum(text, name) / 2 ** 20);
    heap.usedMiB = Math.max(heap.usedMiB, mib('nodejs_heap_size_used_bytes'));
    heap.totalMiB = Math.max(heap.totalMiB, mib('nodejs_heap_size_total_bytes'));
    heap.externalMiB = Math.max(heap.externalMiB, mib('nodejs_external_memory_bytes'));
    heap.samples += 1;
  };
  const sweepPath = `/apis/masksweep.io/v1alpha1/namespaces/${namespace}/sweeps/bookkeeping`;
  let runnerErrors: string[] = [];
  let stopped: { exit: string; seconds: number } | undefined;
  try {
    const start = performance.now();
    await apply(server, sweepManifest('bookkeeping', trials, parallelism), namespace);
    const deadline = Date.now() + timeoutMs;
    let sweep: SweepObject | undefined;
    let lastReport = 0;
    let maxRssMiB = 0;
    let lastHeapSample = 0;
    for (;;) {
      maxRssMiB = Math.max(maxRssMiB, controller.memory().rssMiB);
      if (performance.now() - lastHeapSample > 2_000) {
        lastHeapSample = performance.now();
        await sampleHeap();
      }
      const response = await server.request<SweepObject>('GET', sweepPath);
      sweep = response.body;
      const phase = sweep.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Invalid') break;
      if (Date.now() > deadline)
        throw new Error(
          `the sweep is ${phase} ${sweep.status?.progress} after ${timeoutMs / 60_000} min`,
        );
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now();
        loads.push(loadavg()[0] as number);
        console.error(
          `  ${round((lastReport - start) / 1000)} s: ${phase ?? '-'} ${sweep.status?.progress ?? ''}, ` +
            `controller RSS ${controller.memory().rssMiB} MiB (heap used at most ${heap.usedMiB} MiB), ` +
            `CPU ${round(controller.cpuSeconds())} s, load ${round(loadavg()[0] as number, 2)}`,
        );
      }
      await sleep(250);
    }
    const wallSeconds = (performance.now() - start) / 1000;
    await sampleHeap();
    const machineCpu = machineCpuSeconds() - machineCpuBefore;
    const memory = controller.memory();
    const cpuSeconds = controller.cpuSeconds() - controllerCpuBefore;
    const metrics = await controller.metrics();
    const harnessCpu = process.cpuUsage(harnessCpuBefore);
    const apiServerCpuSeconds = serverCpuOf();
    stopped = await controller.stop();
    try {
      await runner.stop();
    } catch (error) {
      runnerErrors = ((error as AggregateError).errors ?? [error]).map(
        (e: Error) => e.message,
      ) as string[];
    }
    const sum = (name: string, labels?: string[]) => metricSum(metrics, name, labels);
    const reconcileSeconds = sum('masksweep_controller_reconcile_duration_seconds_sum');
    const statusWrites = sum('masksweep_controller_trial_status_writes_total');
    const ended = sum('masksweep_controller_workloads_ended_total');
    const status = sweep.status;
    const serverCpuSeconds = Object.values(apiServerCpuSeconds).reduce((a, b) => a + b, 0);
    const harnessCpuSeconds = (harnessCpu.user + harnessCpu.system) / 1e6;
    return {
      phase: status?.phase,
      progress: status?.progress,
      succeeded: status?.trials?.succeeded,
      wallSeconds: round(wallSeconds),
      trialsPerSecond: round(trials / wallSeconds),
      passes: sum('masksweep_controller_reconciles_total', ['result="ok"']),
      failedPasses: sum('masksweep_controller_reconciles_total', ['result="error"']),
      reconcileSeconds: round(reconcileSeconds, 2),
      statusWrites,
      workloadsEnded: ended,
      jobsCreated: sum('masksweep_controller_jobs_created_total'),
      expectedJobs: trials + expected.pretrainKeys,
      trialsCreated: sum('masksweep_controller_trials_created_total'),
      // The figure: the controller's reconcile time (API round trips included) per
      // transition. The sweep runs one pass at a time, so this is close to wall per transition.
      msPerTransition: round((reconcileSeconds * 1000) / statusWrites, 3),
      wallMsPerTransition: round((wallSeconds * 1000) / statusWrites, 3),
      msPerEndedWorkload: round((reconcileSeconds * 1000) / ended, 3),
      msPerTrial: round((reconcileSeconds * 1000) / trials, 3),
      controllerCpuSeconds: round(cpuSeconds, 2),
      controllerCpuMsPerTransition: round((cpuSeconds * 1000) / statusWrites, 3),
      harnessCpuSeconds: round(harnessCpuSeconds, 2),
      apiServerCpuSeconds,
      apiServerCpuMsPerTransition: round((serverCpuSeconds * 1000) / statusWrites, 3),
      // Busy CPU of the machine during the run, and the part that none of the above used
      // (other work on the shared machine).
      machineCpuSeconds: round(machineCpu, 2),
      otherCpuSeconds: round(machineCpu - cpuSeconds - serverCpuSeconds - harnessCpuSeconds, 2),
      medianLoadAverage: loads.length > 0 ? round(median(loads), 2) : undefined,
      controllerPeakRssMiB: memory.peakRssMiB,
      controllerPeakHeapUsedMiB: heap.usedMiB,
      controllerPeakHeapTotalMiB: heap.totalMiB,
      controllerPeakExternalMiB: heap.externalMiB,
      controllerPeakRssMB: round((memory.peakRssMiB * 2 ** 20) / 1e6),
      controllerMaxSampledRssMiB: Math.max(maxRssMiB, memory.rssMiB),
      controllerErrors: controller.errors.length,
      controllerFirstErrors: controller.errors.slice(0, 3),
      controllerWarnings: controller.warnings,
      controllerExit: stopped.exit,
      controllerStopSeconds: stopped.seconds,
      profiled: profileDir !== undefined,
      runnerErrors: runnerErrors.length,
      runnerFirstErrors: runnerErrors.slice(0, 3),
    };
  } finally {
    if (stopped === undefined) {
      await controller.stop();
      await runner.stop().catch(() => {});
    }
  }
}

const benchmark: Benchmark = {
  options: {
    'wave-trials': 'trials of the first-Jobs sweep, a multiple of 25 (default 1000)',
    'wave-parallelism': 'parallelism of the first-Jobs sweep (default 100)',
    repeats: 'first-Jobs runs, each with a new namespace and controller (default 3)',
    trials: 'trials of the bookkeeping sweep, a multiple of 25 (default 10000)',
    parallelism: 'parallelism of the bookkeeping sweep (default 500)',
    'timeout-min': 'the bookkeeping sweep fails after this many minutes (default 90)',
    profile: 'a folder: the bookkeeping run writes the controller CPU profile there',
    only: 'wave or bookkeeping: run one part only',
  },
  async run(options) {
    const waveTrials = positiveInteger('wave-trials', options['wave-trials'], 1000);
    const waveParallelism = positiveInteger('wave-parallelism', options['wave-parallelism'], 100);
    const repeats = positiveInteger('repeats', options.repeats, 3);
    const trials = positiveInteger('trials', options.trials, 10_000);
    const parallelism = positiveInteger('parallelism', options.parallelism, 500);
    const timeoutMs = positiveInteger('timeout-min', options['timeout-min'], 90) * 60_000;
    const profileDir = typeof options.profile === 'string' ? options.profile : undefined;
    const only = options.only;
    if (only !== undefined && only !== 'wave' && only !== 'bookkeeping')
      throw new RangeError(`--only must be wave or bookkeeping, got ${only}`);
    if (!existsSync(join(CONTROLLER_DIR, 'dist/kube/main.js')))
      throw new Error('services/controller is not built: run npm run build first');
    const stale = staleBuild();
    if (stale.length > 0)
      console.error(`warning: the controller build is older than ${stale.join(', ')}`);
    if (profileDir) mkdirSync(profileDir, { recursive: true });

    const waveSweep = expansionOf(sweepManifest('wave', waveTrials, waveParallelism));
    const bookkeepingSweep = expansionOf(sweepManifest('bookkeeping', trials, parallelism));
    if (waveSweep.trials !== waveTrials || bookkeepingSweep.trials !== trials)
      throw new Error(
        `the manifests expand to ${waveSweep.trials} and ${bookkeepingSweep.trials} trials`,
      );
    const firstWave = Math.min(waveParallelism, waveSweep.pretrainKeys);
    const loadBefore = loadavg();

    const server = await startKubeApiServer();
    try {
      await applyCrds(server);
      const result: Record<string, unknown> = {
        loadAverageBefore: loadBefore.map((l) => round(l, 2)),
        staleControllerBuild: stale,
      };
      if (only !== 'bookkeeping') {
        const runs: WaveRun[] = [];
        for (let r = 0; r < repeats; r++) {
          const { run, baseline } = await waveRun(
            server,
            `wave-${r}`,
            waveTrials,
            waveParallelism,
            firstWave,
            timeoutMs,
            r === 0 ? () => apiBaseline(server, `wave-${r}`, 2000, 16) : undefined,
          );
          if (baseline) {
            result.apiBaseline = baseline;
            console.error(
              `API server alone: ${baseline.writesPerSecond} Trial status patches/s, 16 at once (p50 ${baseline.p50Ms} ms, p99 ${baseline.p99Ms} ms)`,
            );
          }
          console.error(
            `first Jobs ${r + 1}/${repeats}: kubectl apply ${run.kubectlApplyMs} ms, first Job ${run.firstJobMs} ms, ` +
              `first wave (${firstWave}) ${run.firstWaveMs} ms, all ${waveTrials} Trials ${run.allTrialsMs} ms, settled ${run.settledMs} ms, ` +
              `${run.passes} passes, controller peak RSS ${run.controllerPeakRssMiB} MiB`,
          );
          runs.push(run);
        }
        const med = (pick: (run: WaveRun) => number) => round(median(runs.map(pick)));
        result.firstJobs = {
          trials: waveTrials,
          parallelism: waveParallelism,
          pretrainKeys: waveSweep.pretrainKeys,
          firstWave,
          medianKubectlApplyMs: med((r) => r.kubectlApplyMs),
          medianFirstJobMs: med((r) => r.firstJobMs),
          medianFirstWaveMs: med((r) => r.firstWaveMs),
          medianAllTrialsMs: med((r) => r.allTrialsMs),
          medianSettledMs: med((r) => r.settledMs),
          runs,
        };
      }
      if (only !== 'wave') {
        console.error(
          `bookkeeping: ${trials} trials (${bookkeepingSweep.pretrainKeys} pre-training keys), parallelism ${parallelism}`,
        );
        const run = await bookkeepingRun(
          server,
          'bookkeeping',
          trials,
          parallelism,
          bookkeepingSweep,
          timeoutMs,
          profileDir,
        );
        console.error(
          `bookkeeping: ${run.phase} ${run.progress} in ${run.wallSeconds} s; ${run.passes} passes, ` +
            `${run.reconcileSeconds} s reconciling, ${run.statusWrites} transitions: ${run.msPerTransition} ms each ` +
            `(wall ${run.wallMsPerTransition} ms; CPU: controller ${run.controllerCpuMsPerTransition} ms, ` +
            `API server and etcd ${run.apiServerCpuMsPerTransition} ms; other processes ${run.otherCpuSeconds} CPU s in all); ` +
            `peak RSS ${run.controllerPeakRssMiB} MiB (heap used at most ${run.controllerPeakHeapUsedMiB} MiB)`,
        );
        result.bookkeeping = {
          trials,
          parallelism,
          pretrainKeys: bookkeepingSweep.pretrainKeys,
          ...run,
        };
      }
      result.loadAverageAfter = loadavg().map((l) => round(l, 2));
      const firstJobs = result.firstJobs as { medianFirstJobMs: number } | undefined;
      const bookkeeping = result.bookkeeping as
        | { msPerTransition: number; controllerPeakRssMiB: number; phase?: string }
        | undefined;
      result.targets = {
        ...(firstJobs && { firstJobUnder2s: firstJobs.medianFirstJobMs < 2000 }),
        ...(bookkeeping && {
          sweepSucceeded: bookkeeping.phase === 'Succeeded',
          under10MsPerTransition: bookkeeping.msPerTransition < 10,
          peakRssUnder300MB: bookkeeping.controllerPeakRssMiB * 2 ** 20 < 300e6,
        }),
      };
      return result;
    } finally {
      await server.stop();
    }
  },
};
export default benchmark;
