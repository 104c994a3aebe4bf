/**
 * masksweep's TPE against Optuna's, side by side in one run: both samplers (and both random
 * samplers) minimise the same standard problems for `--trials` trials at each of `--seeds`
 * seeds; the best-so-far curves are summarised by their quartiles over the seeds at trials
 * 25, 50 and 100. masksweep's TPE passes a problem when its median is within Optuna TPE's
 * interquartile band or better at every checkpoint, and both TPEs beat both random
 * samplers' medians at the last two. Also times one suggestion at 1,000 and 10,000
 * completed trials of five parameters, univariate and multivariate, for both. Writes the
 * curves as bench/results/tpe.svg and, when Chromium is there, tpe.png.
 * The peer is bench/optuna_tpe.py on Debian's python3-optuna.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '@masksweep/random';
import { DEBIAN_PYTHON } from '@masksweep/testing';
import {
  type JsonValue,
  type ObservedTrial,
  RandomSampler,
  type Sampler,
  type SearchParameter,
  TpeSampler,
} from '@masksweep/tuner';
import { type Benchmark, positiveInteger } from './benchmark.js';
import { median } from './measure.js';
import { type CurveSummary, tpeChart } from './tpe-chart.js';

export interface TpeProblem {
  name: string;
  params: SearchParameter[];
  /** An expression over the parameter names that JavaScript and Python read alike. */
  objective: string;
  /** The problem's minimum, so the chart can plot the regret. */
  optimum: number;
}

const floats = (count: number, low: number, high: number): SearchParameter[] =>
  Array.from({ length: count }, (_, i) => ({
    name: `x${i}`,
    distribution: { type: 'float', low, high },
  }));
const sum = (count: number, term: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => term(i)).join(' + ');

export const TPE_PROBLEMS: TpeProblem[] = [
  { name: 'sphere-2d', params: floats(2, -5, 5), objective: sum(2, (i) => `x${i}**2`), optimum: 0 },
  { name: 'sphere-5d', params: floats(5, -5, 5), objective: sum(5, (i) => `x${i}**2`), optimum: 0 },
  {
    name: 'rosenbrock-2d',
    params: floats(2, -2.048, 2.048),
    objective: '100*(x1 - x0**2)**2 + (1 - x0)**2',
    optimum: 0,
  },
  {
    name: 'rosenbrock-5d',
    params: floats(5, -2.048, 2.048),
    objective: sum(4, (i) => `100*(x${i + 1} - x${i}**2)**2 + (1 - x${i})**2`),
    optimum: 0,
  },
  {
    name: 'branin',
    params: [
      { name: 'x0', distribution: { type: 'float', low: -5, high: 10 } },
      { name: 'x1', distribution: { type: 'float', low: 0, high: 15 } },
    ],
    objective: '(x1 - 5.1/(4*pi**2)*x0**2 + 5/pi*x0 - 6)**2 + 10*(1 - 1/(8*pi))*cos(x0) + 10',
    optimum: 0.39788735772973816,
  },
  {
    name: 'mixed',
    params: [
      { name: 'lr', distribution: { type: 'float', low: 1e-5, high: 1, log: true } },
      { name: 'depth', distribution: { type: 'int', low: 1, high: 20 } },
      { name: 'width', distribution: { type: 'categorical', choices: [0, 1, 2, 3] } },
    ],
    // A log-scale bowl at lr = 1e-3, an int optimum at 7, a categorical penalty.
    objective: '(log10(lr) + 3)**2 + (depth - 7)**2 / 10 + width',
    optimum: 0,
  },
];

const CHECKPOINTS = [25, 50, 100];
const FUNCTIONS = {
  cos: Math.cos,
  sin: Math.sin,
  exp: Math.exp,
  sqrt: Math.sqrt,
  log10: Math.log10,
  pi: Math.PI,
};
const PEER = join(dirname(fileURLToPath(import.meta.url)), 'optuna_tpe.py');

function objectiveOf(problem: TpeProblem): (params: Record<string, JsonValue>) => number {
  const names = problem.params.map((p) => p.name);
  const evaluate = new Function(
    ...Object.keys(FUNCTIONS),
    ...names,
    `return (${problem.objective});`,
  ) as (...args: unknown[]) => number;
  return (params) => evaluate(...Object.values(FUNCTIONS), ...names.map((n) => params[n]));
}

/** Best-so-far after each trial of one seeded run. */
export function bestSoFar(problem: TpeProblem, sampler: Sampler, trials: number): number[] {
  const objective = objectiveOf(problem);
  const history: ObservedTrial[] = [];
  const curve: number[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let trialNumber = 0; trialNumber < trials; trialNumber++) {
    const params = sampler.suggest({ space: problem.params, history, trialNumber });
    const value = objective(params);
    history.push({ params, state: 'complete', value });
    best = Math.min(best, value);
    curve.push(best);
  }
  return curve;
}

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return (
    (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low)
  );
}

/** Quartiles over seeds of the best-so-far at each trial. */
export function summarise(curves: number[][]): CurveSummary {
  const trials = curves[0]?.length ?? 0;
  const summary: CurveSummary = { q25: [], median: [], q75: [] };
  for (let t = 0; t < trials; t++) {
    const values = curves.map((c) => c[t] as number).sort((a, b) => a - b);
    summary.q25.push(quantile(values, 0.25));
    summary.median.push(quantile(values, 0.5));
    summary.q75.push(quantile(values, 0.75));
  }
  return summary;
}

/** Milliseconds per suggestion at `completed` trials of five float parameters. */
function suggestMs(completed: number, multivariate: boolean, repeats: number): number {
  const space = floats(5, -5, 5);
  const random = new Random(1);
  const history: ObservedTrial[] = Array.from({ length: completed }, () => {
    const params = Object.fromEntries(space.map((p) => [p.name, random.uniform(-5, 5)]));
    return {
      params,
      state: 'complete',
      value: Object.values(params).reduce((s, x) => s + x * x, 0),
    };
  });
  const sampler = new TpeSampler({ seed: 0, direction: 'minimize', multivariate });
  // Three untimed calls first, so the figure is of compiled code, not of the first JIT.
  for (let r = 0; r < 3; r++) sampler.suggest({ space, history, trialNumber: completed - 3 + r });
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    sampler.suggest({ space, history, trialNumber: completed + r });
    times.push(performance.now() - start);
  }
  return median(times);
}

/**
 * Both TPEs and both random samplers on the problems, `seedCount` seeds of `trials` trials
 * each, with the verdicts per problem; Optuna's suggest times too when `suggest` is given.
 */
export function compareWithOptuna(
  problems: TpeProblem[],
  seedCount: number,
  trials: number,
  suggest?: { sizes: number[]; repeats: number },
) {
  const seeds = Array.from({ length: seedCount }, (_, i) => i);
  console.error(`optuna peer: ${problems.length} problems x ${seedCount} seeds x ${trials} trials`);
  const peer = JSON.parse(
    execFileSync(DEBIAN_PYTHON, [PEER], {
      input: JSON.stringify({
        trials,
        seeds,
        problems,
        suggest: suggest && { ...suggest, params: 5 },
      }),
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    }),
  ) as {
    optuna: string;
    curves: Record<string, { tpe: number[][]; random: number[][] }>;
    seconds: Record<string, { tpe: number; random: number }>;
    suggestMs: Record<string, number>;
  };
  const results = problems.map((problem) => {
    const start = performance.now();
    const tpeCurves = seeds.map((seed) =>
      bestSoFar(problem, new TpeSampler({ seed, direction: 'minimize' }), trials),
    );
    const tpeSeconds = (performance.now() - start) / 1000;
    const randomCurves = seeds.map((seed) => bestSoFar(problem, new RandomSampler(seed), trials));
    const curves = {
      masksweepTpe: summarise(tpeCurves),
      optunaTpe: summarise(peer.curves[problem.name]?.tpe ?? []),
      masksweepRandom: summarise(randomCurves),
      optunaRandom: summarise(peer.curves[problem.name]?.random ?? []),
    };
    const checkpoints = CHECKPOINTS.filter((c) => c <= trials).map((trial) => {
      const at = (s: CurveSummary) => ({
        q25: s.q25[trial - 1] as number,
        median: s.median[trial - 1] as number,
        q75: s.q75[trial - 1] as number,
      });
      const row = {
        masksweepTpe: at(curves.masksweepTpe),
        optunaTpe: at(curves.optunaTpe),
        masksweepRandom: at(curves.masksweepRandom),
        optunaRandom: at(curves.optunaRandom),
      };
      const randomMedian = Math.min(row.masksweepRandom.median, row.optunaRandom.median);
      return {
        trial,
        ...row,
        withinOptunaBand: row.masksweepTpe.median <= row.optunaTpe.q75,
        bothBeatRandom:
          row.masksweepTpe.median < randomMedian && row.optunaTpe.median < randomMedian,
      };
    });
    const passes = checkpoints.every(
      (c) => c.withinOptunaBand && (c.trial < 50 || c.bothBeatRandom),
    );
    console.error(
      `${problem.name}: ${checkpoints
        .map(
          (c) =>
            `@${c.trial} masksweep ${c.masksweepTpe.median.toPrecision(3)} optuna ${c.optunaTpe.median.toPrecision(3)} [${c.optunaTpe.q25.toPrecision(3)}, ${c.optunaTpe.q75.toPrecision(3)}] random ${c.masksweepRandom.median.toPrecision(3)}`,
        )
        .join('; ')} ${passes ? 'PASS' : 'FAIL'}`,
    );
    return {
      problem: problem.name,
      passes,
      checkpoints,
      seconds: { masksweepTpe: tpeSeconds, optunaTpe: peer.seconds[problem.name]?.tpe },
      curves,
      optimum: problem.optimum,
    };
  });
  return { optuna: peer.optuna, results, peerSuggestMs: peer.suggestMs };
}

const bench: Benchmark = {
  options: {
    trials: 'trials per run (default 100)',
    seeds: 'seeds per sampler and problem (default 30)',
    problems: `comma-separated subset of ${TPE_PROBLEMS.map((p) => p.name).join(', ')}`,
  },
  async run(options) {
    const trials = positiveInteger('trials', options.trials, 100);
    const seedCount = positiveInteger('seeds', options.seeds, 30);
    const wanted = typeof options.problems === 'string' ? options.problems.split(',') : undefined;
    const problems = TPE_PROBLEMS.filter((p) => !wanted || wanted.includes(p.name));
    if (wanted && problems.length !== wanted.length) {
      throw new RangeError(`--problems: unknown name in ${options.problems}`);
    }
    const repeats = 5;
    const sizes = [1000, 10000];
    const { optuna, results, peerSuggestMs } = compareWithOptuna(problems, seedCount, trials, {
      sizes,
      repeats,
    });
    const suggest = sizes.flatMap((completed) =>
      [false, true].map((multivariate) => ({
        completed,
        params: 5,
        multivariate,
        masksweepMs: suggestMs(completed, multivariate, repeats),
        optunaMs: peerSuggestMs[`${completed}/${multivariate}`],
      })),
    );
    for (const s of suggest) {
      console.error(
        `suggest at ${s.completed} (${s.multivariate ? 'multivariate' : 'univariate'}): masksweep ${s.masksweepMs.toFixed(1)} ms, optuna ${s.optunaMs?.toFixed(1)} ms`,
      );
    }
    const figures = await writeFigures(results, trials);
    return {
      optuna,
      trials,
      seeds: seedCount,
      allPass: results.every((r) => r.passes),
      problems: results.map(({ curves: _curves, ...rest }) => rest),
      suggest,
      figures,
    };
  },
};

/** The curves as SVG, and as PNG through headless Chromium when it is installed. */
async function writeFigures(
  results: Array<{ problem: string; curves: Record<string, CurveSummary>; optimum: number }>,
  trials: number,
): Promise<{ svg: string; png?: string }> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const svgPath = join(dir, 'tpe.svg');
  const { svg, width, height } = tpeChart(results, trials);
  writeFileSync(svgPath, svg);
  if (!existsSync('/usr/bin/chromium')) return { svg: svgPath };
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.setContent(`<body style="margin:0">${svg}</body>`);
    const pngPath = join(dir, 'tpe.png');
    await page.screenshot({ path: pngPath });
    return { svg: svgPath, png: pngPath };
  } finally {
    await browser.close();
  }
}

export default bench;
