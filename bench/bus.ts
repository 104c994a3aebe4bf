/**
 * Metric events per second from trial-runner publishers to a durable consumer through a
 * real nats-server (JetStream, file storage, de-duplication ids), end to end: from the
 * first publish until the consumer has handled every event. Each publisher runs in a
 * worker thread with its own connection, as trial-runners are processes of their own; the
 * consumer (the leaderboard's part) runs on the main thread. The time until every event
 * was acknowledged to its publisher, and the consumer alone reading a full stream, are
 * reported too.
 *
 * With `--sink leaderboard` the consumer is the real leaderboard (SQLite store, web view)
 * instead: the rate counts until every point is stored, and the latency from publish to
 * the point arriving in the web view's live stream (SSE) is measured on the way, by a
 * thread of its own that reads the stream as a browser would.
 */
import { mkdtempSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  connectBus,
  consumeEvents,
  EventPublisher,
  ensureStream,
  metricEventId,
} from '@masksweep/bus';
import { openStore, startLeaderboard } from '@masksweep/leaderboard';
import { MetricKind, Stage } from '@masksweep/proto';
import { startNatsServer } from '@masksweep/testing';
import { type Benchmark, positiveInteger } from './benchmark.js';
import { median, peakRssMiB, percentile, processCpuSeconds } from './measure.js';

/** Publishes not yet acknowledged per publisher: below the publisher's buffer capacity. */
const OUTSTANDING = 5000;
/** A write token as long as the leaderboard asks (32 bytes in hex); nothing writes with it. */
const BENCH_TOKEN = 'be'.repeat(32);

interface PublisherShare {
  url: string;
  first: number;
  every: number;
  events: number;
}

interface RunResult {
  endToEndPerSecond: number;
  acknowledgedPerSecond: number;
  consumerAlonePerSecond: number;
  storedBytesPerEvent: number;
  /** Metric events per NATS message: how full the publishers' batches were. */
  eventsPerMessage: number;
  redelivered: number;
  cpuMicrosecondsPerEvent: { node: number; natsServer: number };
}

const benchmark: Benchmark = {
  options: {
    events: 'events per run (default 100000)',
    publishers: 'publisher threads, each with its own connection (default 3)',
    batch: 'consumer batch size (default 256)',
    runs: 'runs, each on a new nats-server (default 3)',
    sink: 'consumer (default): a bare durable consumer; leaderboard: the real leaderboard',
  },
  async run(options) {
    const events = positiveInteger('events', options.events, 100_000);
    const publishers = positiveInteger('publishers', options.publishers, 3);
    const batchSize = positiveInteger('batch', options.batch, 256);
    const runs = positiveInteger('runs', options.runs, 3);
    if (options.sink === 'leaderboard') return leaderboardRuns(events, publishers, runs);
    if (options.sink !== undefined && options.sink !== 'consumer')
      throw new RangeError(`--sink must be consumer or leaderboard, got ${options.sink}`);
    const results: RunResult[] = [];
    for (let run = 0; run < runs; run++) {
      const result = await oneRun(events, publishers, batchSize);
      console.error(
        `run ${run + 1}/${runs}: ${Math.round(result.endToEndPerSecond)} events/s end to end, ${Math.round(result.acknowledgedPerSecond)} events/s acknowledged, ${Math.round(result.consumerAlonePerSecond)} events/s consumed from a full stream`,
      );
      results.push(result);
    }
    const medianOf = (pick: (r: RunResult) => number) => Math.round(median(results.map(pick)));
    return {
      events,
      publishers,
      consumerBatchSize: batchSize,
      eventsPerSecond: medianOf((r) => r.endToEndPerSecond),
      acknowledgedPerSecond: medianOf((r) => r.acknowledgedPerSecond),
      consumerAlonePerSecond: medianOf((r) => r.consumerAlonePerSecond),
      storedBytesPerEvent: results[0]?.storedBytesPerEvent,
      eventsPerMessage: Math.round(median(results.map((r) => r.eventsPerMessage)) * 10) / 10,
      cpuMicrosecondsPerEvent: {
        node: medianOf((r) => r.cpuMicrosecondsPerEvent.node),
        natsServer: medianOf((r) => r.cpuMicrosecondsPerEvent.natsServer),
      },
      runs: results.map((r) => ({
        endToEndPerSecond: Math.round(r.endToEndPerSecond),
        acknowledgedPerSecond: Math.round(r.acknowledgedPerSecond),
        consumerAlonePerSecond: Math.round(r.consumerAlonePerSecond),
        redelivered: r.redelivered,
      })),
      peakRssMiB: peakRssMiB(),
    };
  },
};
export default benchmark;

async function oneRun(events: number, publishers: number, batchSize: number): Promise<RunResult> {
  const server = await startNatsServer();
  const connection = await connectBus({ servers: server.url });
  try {
    await ensureStream(connection);
    const workers = Array.from({ length: publishers }, (_, first) =>
      startPublisher({ url: server.url, first, every: publishers, events }),
    );
    await Promise.all(workers.map((worker) => worker.ready));
    // Counted from the start signal: the workers' start-up (loading TypeScript) is not.
    let cpuBefore = cpuSeconds(server.pid);
    const live = await consumeAll(connection, 'bench-live', events, batchSize, async () => {
      cpuBefore = cpuSeconds(server.pid);
      const started = performance.now();
      for (const worker of workers) worker.start();
      await Promise.all(workers.map((worker) => worker.done));
      return { started, acknowledgedSeconds: (performance.now() - started) / 1000 };
    });
    const cpuAfter = cpuSeconds(server.pid);
    const info = await (await connection.jetstreamManager()).streams.info('MASKSWEEP_EVENTS');
    // A second durable reads the same, already full, stream: the consumer's own pace.
    const alone = await consumeAll(connection, 'bench-alone', events, batchSize, async () => ({
      started: performance.now(),
      acknowledgedSeconds: 0,
    }));
    return {
      endToEndPerSecond: events / live.seconds,
      acknowledgedPerSecond: events / live.acknowledgedSeconds,
      consumerAlonePerSecond: events / alone.seconds,
      storedBytesPerEvent: Math.round(info.state.bytes / events),
      eventsPerMessage: events / info.state.messages,
      redelivered: live.delivered - events,
      cpuMicrosecondsPerEvent: {
        node: ((cpuAfter.node - cpuBefore.node) * 1e6) / events,
        natsServer: ((cpuAfter.server - cpuBefore.server) * 1e6) / events,
      },
    };
  } finally {
    await connection.close();
    await server.stop();
  }
}

const VALUES_PER_EVENT = 3;
/** The latency phase: a steady stream, far above what a sweep's trials send together. */
const STEADY_EVENTS_PER_SECOND = 1000;
const STEADY_SECONDS = 5;
const STEADY_TRIAL = 'bus-steady';

/** Publishes `perSecond` events a second for `seconds`, in 10 ms slices, each stamped when sent. */
async function publishSteadily(url: string, perSecond: number, seconds: number): Promise<void> {
  const connection = await connectBus({ servers: url });
  const publisher = new EventPublisher({ connection });
  const sent: Promise<void>[] = [];
  const perSlice = perSecond / 100;
  for (let slice = 0; slice < seconds * 100; slice++) {
    const due = performance.now() + 10;
    for (let k = 0; k < perSlice; k++) {
      const step = slice * perSlice + k;
      sent.push(
        publisher.publishMetric({
          namespace: 'bench',
          sweep: 'bus',
          trial: STEADY_TRIAL,
          attempt: 1,
          stage: Stage.STAGE_FINETUNE,
          kind: MetricKind.METRIC_KIND_TRAIN,
          step,
          epoch: 0,
          values: { loss: 1 / (step + 1), lr: 0.001, images_per_second: 512 },
          wallTimeMs: Date.now(),
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
  await Promise.all(sent);
  await publisher.close();
  await connection.close();
}

/** Publishers -> NATS -> the leaderboard's store -> its web view's live stream. */
async function leaderboardRuns(events: number, publishers: number, runs: number) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    const server = await startNatsServer();
    const leaderboard = await startLeaderboard({
      database: join(mkdtempSync(join(tmpdir(), 'bench-bus-')), 'lb.db'),
      token: BENCH_TOKEN,
      natsUrl: server.url,
    });
    try {
      const { store } = leaderboard;
      store.registerSweep({ namespace: 'bench', sweep: 'bus', specJson: '{}', trialCount: 64 });
      // The web view's live stream, read in a thread of its own as a browser would be.
      const watcher = startWatcher(`${leaderboard.webUrl}/events/bench/bus`);
      await watcher.ready;
      const workers = Array.from({ length: publishers }, (_, first) =>
        startPublisher({ url: server.url, first, every: publishers, events }),
      );
      await Promise.all(workers.map((worker) => worker.ready));
      const started = performance.now();
      for (const worker of workers) worker.start();
      while (store.lastPointId() < events * VALUES_PER_EVENT) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const seconds = (performance.now() - started) / 1000;
      await Promise.all(workers.map((worker) => worker.done));
      await publishSteadily(server.url, STEADY_EVENTS_PER_SECOND, STEADY_SECONDS);
      const total = (events + STEADY_EVENTS_PER_SECOND * STEADY_SECONDS) * VALUES_PER_EVENT;
      while (store.lastPointId() < total) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Publish-to-visible samples: under the saturating burst, then at a steady rate.
      const latencies = { saturated: [] as number[], steady: [] as number[] };
      for (const { pointId, seenAtMs } of await watcher.stop()) {
        const [point] = store.sweepPointsSince({
          namespace: 'bench',
          sweep: 'bus',
          sinceId: pointId - 1,
          limit: 1,
        });
        // A point's wall time is when it was published.
        if (point)
          latencies[point.trial === STEADY_TRIAL ? 'steady' : 'saturated'].push(
            seenAtMs - point.wallTimeMs,
          );
      }
      const quantiles = (values: number[]) => ({
        p50: percentile(values, 0.5),
        p99: percentile(values, 0.99),
        samples: values.length,
      });
      // The leaderboard alone: a second one, with its own database and durable consumer,
      // reads the full stream (as when the publishers are GPU pods on other machines).
      // Its database knows the sweep before it reads: curves of unregistered sweeps are refused.
      const readerDatabase = join(mkdtempSync(join(tmpdir(), 'bench-bus-')), 'lb.db');
      const registration = openStore({ path: readerDatabase });
      registration.registerSweep({
        namespace: 'bench',
        sweep: 'bus',
        specJson: '{}',
        trialCount: 64,
      });
      registration.close();
      const reader = await startLeaderboard({
        database: readerDatabase,
        token: BENCH_TOKEN,
        natsUrl: server.url,
        durable: 'bench-reader',
      });
      const readStarted = performance.now();
      while (reader.store.lastPointId() < total) await new Promise((r) => setTimeout(r, 10));
      const readSeconds = (performance.now() - readStarted) / 1000;
      await reader.close();
      const result = {
        leaderboardAlonePerSecond: Math.round(total / VALUES_PER_EVENT / readSeconds),
        endToEndPerSecond: Math.round(events / seconds),
        publishToVisibleMs: quantiles(latencies.steady),
        publishToVisibleSaturatedMs: quantiles(latencies.saturated),
      };
      console.error(
        `run ${run + 1}/${runs}: ${result.endToEndPerSecond} events/s publisher to stored point (the leaderboard alone from a full stream: ${result.leaderboardAlonePerSecond}/s); publish to web view at ${STEADY_EVENTS_PER_SECOND}/s p50 ${result.publishToVisibleMs.p50} ms, p99 ${result.publishToVisibleMs.p99} ms; during the burst p50 ${result.publishToVisibleSaturatedMs.p50} ms, p99 ${result.publishToVisibleSaturatedMs.p99} ms`,
      );
      results.push(result);
    } finally {
      await leaderboard.close();
      await server.stop();
    }
  }
  return {
    sink: 'leaderboard',
    events,
    publishers,
    eventsPerSecond: Math.round(median(results.map((r) => r.endToEndPerSecond))),
    leaderboardAlonePerSecond: Math.round(median(results.map((r) => r.leaderboardAlonePerSecond))),
    steadyEventsPerSecond: STEADY_EVENTS_PER_SECOND,
    publishToVisibleMs: {
      p50: median(results.map((r) => r.publishToVisibleMs.p50)),
      p99: median(results.map((r) => r.publishToVisibleMs.p99)),
    },
    publishToVisibleSaturatedMs: {
      p50: median(results.map((r) => r.publishToVisibleSaturatedMs.p50)),
      p99: median(results.map((r) => r.publishToVisibleSaturatedMs.p99)),
    },
    runs: results,
    peakRssMiB: peakRssMiB(),
  };
}

/** When the watcher saw a point: the first and last point of each message are sampled. */
interface PointSeen {
  pointId: number;
  seenAtMs: number;
}

/** A worker thread reading the web view's live stream of a sweep. */
function startWatcher(url: string) {
  const worker = startBenchWorker({ role: 'watcher', url });
  const seen: PointSeen[] = [];
  worker.on('message', (message: PointSeen[] | 'ready' | 'done') => {
    if (Array.isArray(message)) seen.push(...message);
  });
  return {
    ready: workerMessage(worker, 'ready'),
    /** Ends the stream and gives what was seen. */
    async stop(): Promise<PointSeen[]> {
      const done = workerMessage(worker, 'done');
      worker.postMessage('stop');
      await done;
      await worker.terminate();
      return seen;
    },
  };
}

/** A watcher thread's part: posts the first and last point of each `points` message. */
function watchPoints(url: string): void {
  const request = get(url, { headers: { accept: 'text/event-stream' } }, (response) => {
    if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
    parentPort?.postMessage('ready');
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      const seenAtMs = Date.now();
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!message.startsWith('event: points')) continue;
        const data = message.split('\n').find((line) => line.startsWith('data: '));
        if (!data) continue;
        const ids = (JSON.parse(data.slice(6)) as Array<[number]>).map(([id]) => id);
        const sampled = [ids[0], ids[ids.length - 1]].filter((id) => id !== undefined);
        parentPort?.postMessage(sampled.map((pointId) => ({ pointId, seenAtMs })));
      }
    });
  });
  request.on('error', (error) => {
    throw error;
  });
  parentPort?.once('message', () => {
    request.destroy();
    parentPort?.postMessage('done');
  });
}

/**
 * CPU seconds used so far by this process (all its threads) and by the server: the cost
 * of an event, which the rate follows on a machine shared with other work.
 */
function cpuSeconds(serverPid: number | undefined): { node: number; server: number } {
  if (serverPid === undefined) throw new Error('nats-server has no pid: it is not running');
  const { user, system } = process.cpuUsage();
  return { node: (user + system) / 1e6, server: processCpuSeconds(serverPid) };
}

/** Runs `produce` while a durable consumer reads until it has seen `events` distinct ids. */
async function consumeAll(
  connection: Awaited<ReturnType<typeof connectBus>>,
  durable: string,
  events: number,
  batchSize: number,
  produce: () => Promise<{ started: number; acknowledgedSeconds: number }>,
) {
  const seen = new Set<string>();
  let delivered = 0;
  let allSeen: () => void = () => {};
  const consumed = new Promise<void>((resolve) => {
    allSeen = resolve;
  });
  const consumer = await consumeEvents({
    connection,
    durable,
    batchSize,
    handler: async (batch) => {
      delivered += batch.length;
      for (const e of batch) if (e.kind === 'metric') seen.add(metricEventId(e.event));
      if (seen.size === events) allSeen();
    },
    onPoison: (poison) => {
      throw new Error(`poison in the benchmark: ${poison.error.message}`);
    },
  });
  const { started, acknowledgedSeconds } = await produce();
  await consumed;
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  return { seconds, acknowledgedSeconds, delivered };
}

type WorkerRole = ({ role: 'publisher' } & PublisherShare) | { role: 'watcher'; url: string };

function startBenchWorker(role: WorkerRole): Worker {
  // Node 20's workers do not inherit `--import tsx`: register it before loading this file.
  const load = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return new Worker(load, { eval: true, workerData: role });
}

function workerMessage(worker: Worker, expected: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    worker.on('message', (m) => m === expected && resolve());
    worker.once('error', reject);
  });
}

function startPublisher(share: PublisherShare) {
  const worker = startBenchWorker({ role: 'publisher', ...share });
  return {
    ready: workerMessage(worker, 'ready'),
    done: workerMessage(worker, 'done').then(() => worker.terminate()),
    start: () => worker.postMessage('start'),
  };
}

/** A worker thread's part: its share of the events, once the main thread says start. */
async function publishShare({ url, first, every, events }: PublisherShare): Promise<void> {
  const connection = await connectBus({ servers: url });
  const publisher = new EventPublisher({ connection });
  const start = new Promise((resolve) => parentPort?.once('message', resolve));
  parentPort?.postMessage('ready');
  await start;
  const acks: Promise<void>[] = [];
  for (let step = first, n = 0; step < events; step += every, n++) {
    if (n >= OUTSTANDING) await acks[n - OUTSTANDING];
    acks.push(
      publisher.publishMetric({
        namespace: 'bench',
        sweep: 'bus',
        trial: `bus-${step % 64}`,
        attempt: 1,
        stage: Stage.STAGE_PRETRAIN,
        kind: MetricKind.METRIC_KIND_TRAIN,
        step,
        epoch: Math.floor(step / 1000),
        values: { loss: 1 / (step + 1), lr: 0.001, images_per_second: 512 },
        wallTimeMs: Date.now(),
      }),
    );
  }
  await Promise.all(acks);
  await publisher.close();
  await connection.close();
  parentPort?.postMessage('done');
}

if (!isMainThread) {
  const role = workerData as WorkerRole;
  if (role.role === 'watcher') watchPoints(role.url);
  else await publishShare(role);
}
