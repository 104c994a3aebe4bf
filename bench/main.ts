/**
 * `npm run bench -- <name> [options]`: runs one benchmark, prints its progress and, as the
 * last line, one JSON object; the same object is written to bench/results/<name>.json.
 * `npm run bench -- --help` lists the benchmarks, `npm run bench -- <name> --help` the
 * options of one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Benchmark, BenchOptions } from './benchmark.js';
import { environment } from './measure.js';

/** Each benchmark with what it measures; its module loads only when it runs (some load TensorFlow.js). */
export const BENCHMARKS: Record<string, { summary: string; load: () => Promise<Benchmark> }> = {
  masks: {
    summary: 'masks generated per second, for every mask type of the study',
    load: async () => (await import('./masks.js')).default,
  },
  'data-pipeline': {
    summary: 'images per second through decoding, resizing and augmentation',
    load: async () => (await import('./data-pipeline.js')).default,
  },
  'train-step': {
    summary: 'one training step of each trainer (classify, SparK, SimCLR, MFF) per backend',
    load: async () => (await import('./train-step.js')).default,
  },
  'spark-quality': {
    summary: 'what SparK pre-training buys at 64 px on the CT sets (writes docs/spark-64)',
    load: async () => (await import('./spark-quality.js')).default,
  },
  kernels: {
    summary: 'ms per call of the wasm training kernels, against cpu and the shipped ones',
    load: async () => (await import('./kernels.js')).default,
  },
  leaderboard: {
    summary: 'store queries, metric inserts and the web view at 100,000 results',
    load: async () => (await import('./leaderboard.js')).default,
  },
  'compare-load': {
    summary: 'CompareConfigs at the resample limit, ten at once: /healthz and compare latency',
    load: async () => (await import('./compare-load.js')).default,
  },
  'bootstrap-coverage': {
    summary:
      'coverage of the hierarchical bootstrap interval on simulated experiments (docs/statistics.md)',
    load: async () => (await import('./bootstrap-coverage.js')).default,
  },
  bus: {
    summary: 'metric events per second from trial publishers through nats-server',
    load: async () => (await import('./bus.js')).default,
  },
  tpe: {
    summary: "masksweep's TPE against Optuna's on standard problems, and suggest time",
    load: async () => (await import('./tpe.js')).default,
  },
  controller: {
    summary: 'the Kubernetes controller at 1,000 and 10,000 trials, on a real API server',
    load: async () => (await import('./controller.js')).default,
  },
};

const USAGE = 'usage: npm run bench -- <name> [options]   (<name> --help: its options)';

/** Names and one line each, in columns. */
function columns(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join('\n');
}

/** The usage line and every benchmark with what it measures. */
export function benchmarkList(): string {
  const rows = Object.entries(BENCHMARKS).map(([name, b]): [string, string] => [name, b.summary]);
  return `${USAGE}\n\nbenchmarks:\n${columns(rows)}`;
}

function optionList(name: string, bench: Benchmark): string {
  const rows = Object.entries(bench.options).map(([o, help]): [string, string] => [`--${o}`, help]);
  return `usage: npm run bench -- ${name} [options]\n${BENCHMARKS[name]?.summary}\n\noptions:\n${columns(rows)}`;
}

export interface BenchOutput {
  log(text: string): void;
  error(text: string): void;
}

/** Runs the command line `argv` (after `npm run bench --`); gives the exit code. */
export async function runBench(argv: string[], out: BenchOutput = console): Promise<number> {
  const [name, ...rest] = argv;
  const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h';
  if (isHelp(name)) {
    out.log(benchmarkList());
    return 0;
  }
  const entry = name === undefined ? undefined : BENCHMARKS[name];
  if (name === undefined || !entry) {
    if (name !== undefined) out.error(`unknown benchmark '${name}'`);
    out.error(benchmarkList());
    return 2;
  }
  const bench = await entry.load();
  if (rest.some(isHelp)) {
    out.log(optionList(name, bench));
    return 0;
  }
  let values: BenchOptions;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: Object.fromEntries(Object.keys(bench.options).map((o) => [o, { type: 'string' }])),
      strict: true,
    }));
  } catch (error) {
    // Unknown options, missing values, stray words: node:util's parse errors.
    if (!String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw error;
    out.error(`${(error as Error).message}\n\n${optionList(name, bench)}`);
    return 2;
  }
  const result = { benchmark: name, ...environment(), ...(await bench.run(values)) };
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  out.log(JSON.stringify(result));
  return 0;
}

// Run as the command (not when a test imports this module).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runBench(process.argv.slice(2));
}
