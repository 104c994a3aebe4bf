/**
 * `npm run bench -- <name> [options]`: runs one benchmark, prints its progress and, as the
 * last line, one JSON object; the same object is written to bench/results/<name>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { environment } from './measure.js';

export type BenchOptions = Record<string, string | boolean | undefined>;
export interface Benchmark {
  /** Option names this benchmark takes (all strings), with one line of help each. */
  options: Record<string, string>;
  run(options: BenchOptions): Promise<Record<string, unknown>>;
}

const benchmarks: Record<string, () => Promise<Benchmark>> = {
  masks: async () => (await import('./masks.js')).default,
  'data-pipeline': async () => (await import('./data-pipeline.js')).default,
  'train-step': async () => (await import('./train-step.js')).default,
  'spark-quality': async () => (await import('./spark-quality.js')).default,
  kernels: async () => (await import('./kernels.js')).default,
  leaderboard: async () => (await import('./leaderboard.js')).default,
  bus: async () => (await import('./bus.js')).default,
  controller: async () => (await import('./controller.js')).default,
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const load = name ? benchmarks[name] : undefined;
  if (!load) {
    console.error(`usage: npm run bench -- <${Object.keys(benchmarks).join('|')}> [options]`);
    process.exitCode = 2;
    return;
  }
  const bench = await load();
  const { values } = parseArgs({
    args: rest,
    options: Object.fromEntries(Object.keys(bench.options).map((o) => [o, { type: 'string' }])),
    strict: true,
  });
  const result = { benchmark: name, ...environment(), ...(await bench.run(values)) };
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

await main(process.argv.slice(2));
