import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Random } from '@masksweep/random';
import { DEBIAN_PYTHON, pythonCanImport } from '@masksweep/testing';
import { describe, expect, it } from 'vitest';
import {
  type Distribution,
  distributionProblems,
  type JsonValue,
  sampleUniform,
} from './distributions.js';
import { defaultWeights, ParzenEstimator } from './parzen.js';
import { type ObservedTrial, RandomSampler, TpeSampler } from './samplers.js';
import { type SearchParameter, searchSpaceProblems } from './search-space.js';
import { logGaussMass, ndtr, truncnormPpf } from './truncnorm.js';

describe('distributions', () => {
  it('refuse what Optuna refuses, naming the field', () => {
    const cases: Array<[Distribution, string]> = [
      [{ type: 'float', low: 1, high: 1 }, 'high: must be greater than low'],
      [{ type: 'float', low: 0, high: 1, log: true }, 'low: must be > 0'],
      [{ type: 'float', low: 0.1, high: 1, log: true, step: 0.1 }, 'log: cannot be combined'],
      [{ type: 'float', low: 0, high: 1, step: 0.3 }, 'high: high - low (1) must be a multiple'],
      [{ type: 'int', low: 0, high: 2.5 }, 'high: must be a finite integer'],
      [{ type: 'int', low: 1, high: 9, step: 0 }, 'step: must be a positive integer'],
      [{ type: 'categorical', choices: [] }, 'choices: must hold at least one value'],
    ];
    for (const [distribution, message] of cases) {
      expect(distributionProblems(distribution).join('; ')).toContain(message);
    }
    expect(distributionProblems({ type: 'float', low: 1e-5, high: 1e-1, log: true })).toEqual([]);
    expect(distributionProblems({ type: 'float', low: 0, high: 0.9, step: 0.1 })).toEqual([]);
  });

  it('a space refuses a condition on a parameter that is not an earlier categorical', () => {
    const space: SearchParameter[] = [
      { name: 'lr', distribution: { type: 'float', low: 1e-4, high: 1e-2, log: true } },
      { name: 'optimizer', distribution: { type: 'categorical', choices: ['adamw', 'sgd'] } },
      {
        name: 'momentum',
        distribution: { type: 'float', low: 0, high: 1 },
        when: { param: 'optimizer', in: ['sgd', 'lamb'] },
      },
      {
        name: 'decay',
        distribution: { type: 'float', low: 0, high: 1 },
        when: { param: 'lr', in: [0.1] },
      },
      {
        name: 'beta',
        distribution: { type: 'float', low: 0, high: 1 },
        when: { param: 'later', in: [1] },
      },
      { name: 'later', distribution: { type: 'categorical', choices: [1] } },
    ];
    expect(searchSpaceProblems(space, ['method'])).toEqual([
      '[2].when.in: "lamb" is not a choice of optimizer',
      '[3].when.param: "lr" must be a categorical parameter',
      '[4].when.param: "later" is neither an earlier parameter nor one of method',
    ]);
  });
});

/** Pearson's χ² of counts against equal expected shares. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe('the random sampler', () => {
  const draws = 20_000;
  const random = new Random(7);
  // χ² critical values at p = 0.001: 9 degrees of freedom 27.88, 4 df 18.47, 2 df 13.82.
  it('draws a float uniformly: ten equal bins', () => {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < draws; i++) {
      const x = sampleUniform({ type: 'float', low: -2, high: 3 }, random) as number;
      expect(x).toBeGreaterThanOrEqual(-2);
      expect(x).toBeLessThan(3);
      counts[Math.floor((x + 2) / 0.5)]++;
    }
    expect(chiSquare(counts)).toBeLessThan(27.88);
  });

  it('draws a log float uniformly in log space: one bin per decade', () => {
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < draws; i++) {
      const x = sampleUniform({ type: 'float', low: 1e-6, high: 10, log: true }, random) as number;
      counts[Math.floor(Math.log10(x) + 6)]++;
    }
    // 6 degrees of freedom: 22.46 at p = 0.001.
    expect(chiSquare(counts)).toBeLessThan(22.46);
  });

  it('draws every value of a stepped float and an int equally often, ends included', () => {
    for (const distribution of [
      { type: 'float', low: 0.1, high: 0.5, step: 0.1 },
      { type: 'int', low: -3, high: 1 },
      { type: 'int', low: 2, high: 18, step: 4 },
    ] as const) {
      const counts = new Map<number, number>();
      for (let i = 0; i < draws; i++) {
        const x = sampleUniform(distribution, random) as number;
        counts.set(Math.round(x * 10), (counts.get(Math.round(x * 10)) ?? 0) + 1);
      }
      expect(counts.size).toBe(5);
      expect(chiSquare([...counts.values()])).toBeLessThan(18.47);
    }
  });

  it('puts a stepped float on the decimal grid a user writes, not 0.7000000000000001', () => {
    const distribution = { type: 'float', low: 0.4, high: 0.8, step: 0.1 } as const;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(sampleUniform(distribution, random) as number);
    expect([...seen].sort()).toEqual([0.4, 0.5, 0.6, 0.7, 0.8]);
  });

  it('draws a log int with the mass of [v - 0.5, v + 0.5] in log space', () => {
    const distribution = { type: 'int', low: 1, high: 3, log: true } as const;
    const counts = [0, 0, 0];
    for (let i = 0; i < draws; i++) counts[(sampleUniform(distribution, random) as number) - 1]++;
    const width = Math.log(3.5) - Math.log(0.5);
    const shares = [1, 2, 3].map((v) => (Math.log(v + 0.5) - Math.log(v - 0.5)) / width);
    const chi = counts.reduce(
      (sum, c, i) =>
        sum + (c - draws * (shares[i] as number)) ** 2 / (draws * (shares[i] as number)),
      0,
    );
    expect(chi).toBeLessThan(13.82);
  });

  it('draws each categorical choice equally often, JSON values as they are', () => {
    const choices: JsonValue[] = [null, 'adamw', { lr: 1 }, [1, 2], false];
    const counts = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      const key = JSON.stringify(sampleUniform({ type: 'categorical', choices }, random));
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(choices.map((c) => JSON.stringify(c)).sort());
    expect(chiSquare([...counts.values()])).toBeLessThan(18.47);
  });

  it('suggests the same values for the same seed and trial number, and only active parameters', () => {
    const space: SearchParameter[] = [
      { name: 'optimizer', distribution: { type: 'categorical', choices: ['adamw', 'sgd'] } },
      {
        name: 'momentum',
        distribution: { type: 'float', low: 0, high: 1 },
        when: { param: 'optimizer', in: ['sgd'] },
      },
      {
        name: 'dropPath',
        distribution: { type: 'float', low: 0, high: 0.3 },
        when: { param: 'method', in: ['spark'] },
      },
    ];
    const sampler = new RandomSampler(3);
    const suggestions = Array.from({ length: 40 }, (_, trialNumber) =>
      sampler.suggest({ space, history: [], trialNumber, fixed: { method: 'scratch' } }),
    );
    expect(suggestions).toEqual(
      Array.from({ length: 40 }, (_, trialNumber) =>
        new RandomSampler(3).suggest({
          space,
          history: [],
          trialNumber,
          fixed: { method: 'scratch' },
        }),
      ),
    );
    for (const s of suggestions) {
      expect('momentum' in s).toBe(s.optimizer === 'sgd');
      expect('dropPath' in s).toBe(false);
    }
    expect(new Set(suggestions.map((s) => s.optimizer)).size).toBe(2);
  });
});

describe('the truncated normal', () => {
  it('has Φ, interval masses and a quantile function that agree with each other', () => {
    expect(ndtr(0)).toBe(0.5);
    expect(ndtr(1.959963984540054)).toBeCloseTo(0.975, 12);
    expect(Math.exp(logGaussMass(-1, 1))).toBeCloseTo(0.6826894921370859, 12);
    // Far tails stay finite where exp would underflow.
    expect(logGaussMass(40, 41)).toBeCloseTo(-804.6084420137538, 6);
    for (const [a, b] of [
      [-1, 2],
      [0.5, 3],
      [-30, -29],
      [35, 40],
    ] as const) {
      for (const q of [0.01, 0.3, 0.5, 0.9]) {
        const x = truncnormPpf(q, a, b);
        expect(x).toBeGreaterThanOrEqual(a);
        expect(x).toBeLessThanOrEqual(b);
        expect(Math.exp(logGaussMass(a, x) - logGaussMass(a, b))).toBeCloseTo(q, 6);
      }
    }
  });
});

const python = DEBIAN_PYTHON;
const hasOptuna = pythonCanImport('optuna');
const parzenScript = fileURLToPath(new URL('../../scripts/optuna_parzen.py', import.meta.url));

describe.skipIf(!hasOptuna)("the Parzen estimator against Optuna's (Debian python3-optuna)", () => {
  const space: Record<string, Distribution> = {
    x: { type: 'float', low: -5, high: 10 },
    lr: { type: 'float', low: 1e-5, high: 1e-1, log: true },
    ratio: { type: 'float', low: 0.1, high: 0.9, step: 0.1 },
    depth: { type: 'int', low: 1, high: 12 },
    width: { type: 'int', low: 8, high: 512, log: true },
    stride: { type: 'int', low: 2, high: 20, step: 3 },
    aug: { type: 'categorical', choices: ['none', 'flip', 'crop', 'mixup'] },
  };
  const random = new Random(11);
  const observe = (d: Distribution, n: number) =>
    Array.from({ length: n }, () => {
      const v = sampleUniform(d, random);
      return d.type === 'categorical' ? d.choices.indexOf(v) : (v as number);
    });

  for (const multivariate of [false, true]) {
    for (const n of [0, 3, 30]) {
      it(`gives the same log density (${multivariate ? 'multivariate' : 'univariate'}, ${n} observations)`, () => {
        const names = multivariate ? Object.keys(space) : ['x'];
        const cases = multivariate ? [names] : Object.keys(space).map((name) => [name]);
        for (const group of cases) {
          const sub = new Map(group.map((name) => [name, space[name] as Distribution]));
          // Equal observations of a discrete parameter (and the prior's centre) get their
          // bandwidths in sorted order, and numpy's argsort is stable only up to 16 values
          // (insertion sort; introsort above): so discrete parameters are checked at up to 15.
          const discrete = group.some((name) => {
            const d = space[name] as Distribution;
            return !multivariate && (d.type !== 'float' || d.step !== undefined);
          });
          const count = discrete ? Math.min(n, 15) : n;
          const observations = new Map(
            group.map((name) => [name, observe(space[name] as Distribution, count)]),
          );
          const points = new Map(
            group.map((name) => [name, observe(space[name] as Distribution, 16)]),
          );
          const ours = new ParzenEstimator(observations, sub, {
            priorWeight: 1,
            considerEndpoints: false,
            multivariate,
          });
          const input = JSON.stringify({
            space: Object.fromEntries(sub),
            observations: Object.fromEntries(observations),
            points: Object.fromEntries(points),
            multivariate,
          });
          const theirs = JSON.parse(
            execFileSync(python, [parzenScript], { input, encoding: 'utf8' }),
          ).logPdf;
          const mine = [...ours.logPdf(points)];
          mine.forEach((value, i) => {
            expect(value, `${group} point ${i}`).toBeCloseTo(theirs[i], 8);
          });
        }
      });
    }
  }

  it("weights observations as Optuna's default_weights", () => {
    expect(defaultWeights(3)).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30, 15);
    expect(w[4]).toBe(1);
    expect(w.slice(5)).toEqual(new Array(25).fill(1));
  });
});

describe('TPE', () => {
  const space: SearchParameter[] = [
    { name: 'x', distribution: { type: 'float', low: -5, high: 5 } },
    { name: 'y', distribution: { type: 'float', low: -5, high: 5 } },
  ];
  const sphere = (p: Record<string, JsonValue>) => (p.x as number) ** 2 + (p.y as number) ** 2;

  function run(sampler: TpeSampler | RandomSampler, trials: number): ObservedTrial[] {
    const history: ObservedTrial[] = [];
    for (let trialNumber = 0; trialNumber < trials; trialNumber++) {
      const params = sampler.suggest({ space, history, trialNumber });
      history.push({ params, state: 'complete', value: sphere(params) });
    }
    return history;
  }
  const best = (history: ObservedTrial[]) => Math.min(...history.map((t) => t.value as number));

  it('is random for its startup trials, then concentrates where the objective is low', () => {
    const tpe = run(new TpeSampler({ seed: 1, direction: 'minimize' }), 60);
    const late = tpe.slice(40).map((t) => t.value as number);
    // Uniform draws on [-5, 5]² have a mean of 16.7; TPE's late ones are far below it.
    expect(late.reduce((a, b) => a + b, 0) / late.length).toBeLessThan(5);
  });

  it('beats random search on a 2-D sphere over 15 seeds', () => {
    let wins = 0;
    for (let seed = 0; seed < 15; seed++) {
      const tpe = best(run(new TpeSampler({ seed, direction: 'minimize' }), 50));
      const random = best(run(new RandomSampler(seed), 50));
      if (tpe < random) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(11);
  });

  it('gives the same suggestion for the same seed and history, and another for another seed', () => {
    const history = run(new TpeSampler({ seed: 4, direction: 'minimize' }), 20);
    const next = (seed: number) =>
      new TpeSampler({ seed, direction: 'minimize' }).suggest({ space, history, trialNumber: 20 });
    expect(next(4)).toEqual(next(4));
    expect(next(4)).not.toEqual(next(5));
  });

  it('with the constant liar, steers away from what running trials already try', () => {
    const history = run(new TpeSampler({ seed: 2, direction: 'minimize' }), 20);
    const running: ObservedTrial[] = Array.from({ length: 30 }, () => ({
      params: { x: 0.1, y: 0.1 },
      state: 'running',
    }));
    const distance = (liar: boolean) => {
      let total = 0;
      for (let t = 0; t < 10; t++) {
        const s = new TpeSampler({ seed: t, direction: 'minimize', constantLiar: liar }).suggest({
          space,
          history: [...history, ...running],
          trialNumber: 50 + t,
        });
        total += Math.hypot((s.x as number) - 0.1, (s.y as number) - 0.1);
      }
      return total;
    };
    expect(distance(true)).toBeGreaterThan(distance(false));
  });

  it('maximizes when told to, and multivariate and group sampling also find the optimum', () => {
    for (const options of [{ multivariate: true }, { multivariate: true, group: true }, {}]) {
      const sampler = new TpeSampler({ seed: 9, direction: 'maximize', ...options });
      const history: ObservedTrial[] = [];
      for (let trialNumber = 0; trialNumber < 60; trialNumber++) {
        const params = sampler.suggest({ space, history, trialNumber });
        history.push({ params, state: 'complete', value: -sphere(params) });
      }
      expect(Math.max(...history.map((t) => t.value as number))).toBeGreaterThan(-0.5);
    }
    expect(() => new TpeSampler({ seed: 0, direction: 'minimize', group: true })).toThrow(
      /group: needs multivariate/,
    );
  });
});
