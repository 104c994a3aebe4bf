/**
 * How often the hierarchical bootstrap's 95 % interval holds the true accuracy, on
 * simulated experiments with a known truth (packages/stats/src/simulation.test-support.ts),
 * for the sizes this project runs: 1, 2, 3 and 5 seeds x 20, 40 and 100 test images, test
 * images drawn per seed or shared by all seeds. Beside it, the Student-t interval over seeds
 * that the summary used, and the time of one interval at 3 seeds x 200 images x 2000
 * resamples. Prints the markdown tables of docs/statistics.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Random } from '@masksweep/random';
import { hierarchicalBootstrap, pairedHierarchicalDifference } from '@masksweep/stats';
import {
  bootstrapCoverage,
  type Coverage,
  type CoverageRun,
  type Design,
  type Population,
  STUDY_POPULATION,
  studentCoverage,
  trueAccuracy,
} from '../packages/stats/src/simulation.test-support.js';
import { type Benchmark, positiveInteger } from './benchmark.js';
import { coverageChart } from './coverage-chart.js';
import { median } from './measure.js';

const SEEDS = [1, 2, 3, 5];
const IMAGES = [20, 40, 100];

const percent = (value: number) => (100 * value).toFixed(1);

/**
 * Milliseconds per call of `work`, wall clock and this process's CPU time (user + system),
 * medians of `repeats` after one warm-up call. On a shared machine the CPU time is the
 * steadier figure: the wall clock also counts the time other processes held the cores.
 */
function timePerCall(work: () => void, repeats: number): { wallMs: number; cpuMs: number } {
  work();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const startCpu = process.cpuUsage();
    work();
    const used = process.cpuUsage(startCpu);
    wall.push(performance.now() - start);
    cpu.push((used.user + used.system) / 1000);
  }
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { wallMs: round(median(wall)), cpuMs: round(median(cpu)) };
}

function speed(): Record<string, { wallMs: number; cpuMs: number }> {
  const rng = new Random(7);
  const labels = Array.from({ length: 200 }, () => (rng.float() < 0.3 ? 1 : 0));
  const config = (accuracy: number) =>
    [0, 1, 2].map((seed) => ({
      seed,
      labels,
      predictions: labels.map((label) => (rng.float() < accuracy ? label : 1 - label)),
    }));
  const a = config(0.85);
  const b = config(0.8);
  const options = (seed: number, testSet: 'per-seed' | 'shared') => ({
    resamples: 2000,
    rng: new Random(seed),
    testSet,
  });
  return {
    intervalPerSeedMs: timePerCall(
      () => hierarchicalBootstrap(a, 'f1', options(1, 'per-seed')),
      15,
    ),
    intervalSharedMs: timePerCall(() => hierarchicalBootstrap(a, 'f1', options(1, 'shared')), 15),
    pairedPerSeedMs: timePerCall(
      () => pairedHierarchicalDifference(a, b, 'f1', options(1, 'per-seed')),
      15,
    ),
    pairedSharedMs: timePerCall(
      () => pairedHierarchicalDifference(a, b, 'f1', options(1, 'shared')),
      15,
    ),
  };
}

interface Row {
  seeds: number;
  images: number;
  data: Design['testSet'];
  bootstrap: Coverage;
  /** The per-seed bootstrap applied to shared-test-set data (the wrong design). */
  mismatched?: Coverage;
  student?: Coverage;
}

function table(rows: Row[], data: Design['testSet']): string {
  const lines = [
    data === 'per-seed'
      ? '| seeds x images | bootstrap coverage | below / above | mean width | Student t over seeds |'
      : '| seeds x images | bootstrap (shared) coverage | below / above | mean width | per-seed bootstrap on these data | Student t over seeds |',
    data === 'per-seed' ? '|---|---|---|---|---|' : '|---|---|---|---|---|---|',
  ];
  for (const row of rows.filter((r) => r.data === data)) {
    const { coverage, missedLow, meanWidth } = row.bootstrap;
    const missedHigh = 1 - coverage - missedLow;
    const student =
      row.seeds === 1 || !row.student ? 'none (1 seed)' : `${percent(row.student.coverage)} %`;
    const cells = [
      `${row.seeds} x ${row.images}`,
      `${percent(coverage)} %`,
      `${percent(missedLow)} / ${percent(missedHigh)} %`,
      percent(meanWidth),
      ...(data === 'shared' && row.mismatched ? [`${percent(row.mismatched.coverage)} %`] : []),
      student,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

const benchmark: Benchmark = {
  options: {
    experiments: 'simulated experiments per setting (default 1000)',
    resamples: 'bootstrap resamples per interval (default 1000)',
    'skill-sd': 'seed-to-seed standard deviation of skill (default 0.02, the test model)',
    figure: 'write the coverage chart (SVG) to this path, e.g. docs/statistics/coverage.svg',
  },
  async run(options) {
    const experiments = positiveInteger('experiments', options.experiments, 1000);
    const resamples = positiveInteger('resamples', options.resamples, 1000);
    const skillSd = Number(options['skill-sd'] ?? STUDY_POPULATION.skillSd);
    if (!(skillSd > 0 && skillSd < 0.2)) {
      throw new RangeError(`--skill-sd must be in (0, 0.2), got ${options['skill-sd']}`);
    }
    const population: Population = { ...STUDY_POPULATION, skillSd };
    const timing = speed();
    console.error(
      `timing (ms per call, 3 seeds x 200 images x 2000 resamples): ${JSON.stringify(timing)}`,
    );
    const rows: Row[] = [];
    const started = performance.now();
    for (const data of ['per-seed', 'shared'] as const) {
      for (const seeds of SEEDS) {
        for (const images of IMAGES) {
          const design: Design = { seeds, images, testSet: data };
          // Every method of a setting sees the same simulated experiments (the same fork).
          const run = (extra: Partial<CoverageRun> = {}): CoverageRun => ({
            population,
            design,
            experiments,
            resamples,
            rng: new Random(2026).fork(data, seeds, images),
            ...extra,
          });
          const row: Row = {
            seeds,
            images,
            data,
            bootstrap: bootstrapCoverage(run()),
            ...(seeds > 1 ? { student: studentCoverage(run()) } : {}),
            ...(data === 'shared'
              ? { mismatched: bootstrapCoverage(run({ assumedTestSet: 'per-seed' })) }
              : {}),
          };
          rows.push(row);
          console.error(
            `${data} ${seeds} x ${images}: ${percent(row.bootstrap.coverage)} % (${((performance.now() - started) / 1000).toFixed(0)} s)`,
          );
        }
      }
    }
    console.error(`\nData with a test set per seed:\n\n${table(rows, 'per-seed')}\n`);
    console.error(`Data with one test set shared by all seeds:\n\n${table(rows, 'shared')}\n`);
    if (typeof options.figure === 'string') {
      const caption = `Coverage of 95 % intervals of a simulated accuracy of ${trueAccuracy(population).toFixed(3)}, seed-to-seed SD of skill ${skillSd} (${experiments} experiments per point)`;
      const points = rows.map((row) => ({
        seeds: row.seeds,
        images: row.images,
        data: row.data,
        coverage: row.bootstrap.coverage,
        ...(row.student ? { studentCoverage: row.student.coverage } : {}),
      }));
      mkdirSync(dirname(options.figure), { recursive: true });
      writeFileSync(options.figure, coverageChart(points, caption));
      console.error(`wrote ${options.figure}`);
    }
    return {
      experiments,
      resamples,
      population,
      timing,
      rows: rows.map((row) => ({
        seeds: row.seeds,
        images: row.images,
        data: row.data,
        coverage: row.bootstrap.coverage,
        missedLow: row.bootstrap.missedLow,
        meanWidth: row.bootstrap.meanWidth,
        ...(row.student ? { studentCoverage: row.student.coverage } : {}),
        ...(row.mismatched ? { perSeedBootstrapCoverage: row.mismatched.coverage } : {}),
      })),
    };
  },
};

export default benchmark;
