import { resolveMaskSetting } from '@masksweep/masks';
import { RandomSampler, TpeSampler } from '@masksweep/tuner';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { SweepValidationError } from './errors.js';
import { expandSweep } from './expand.js';
import { LIMITS } from './limits.js';
import { FinetuneStage, Model, PretrainStage, type SweepResource } from './schema.js';
import { CONFIG_PARAMETER, sampledTrials, searchPlan } from './search.js';
import { type TinySweepOptions, tinySweep } from './sweep.test-support.js';
import { findProblems, validateSweep } from './validate.js';

const LR = { path: 'finetune.lr', float: { low: 1e-5, high: 1e-2, log: true } };

function searchSweep(search: Record<string, unknown>, options: TinySweepOptions = {}) {
  return tinySweep('search', {
    ...options,
    spec: { maxTrials: 20 * (options.seeds?.length ?? 1), search, ...options.spec },
  });
}

/** The problems of a Sweep as `path: message` lines. */
function problemsOf(manifest: unknown): string[] {
  return findProblems(manifest).problems.map((p) => `${p.path}: ${p.message}`);
}

describe('spec.search validation', () => {
  it('accepts a space over the fine-tuning, pre-training and mask fields, with defaults filled', () => {
    const sweep = validateSweep(
      searchSweep({
        parameters: [
          LR,
          { path: 'finetune.epochs', int: { low: 1, high: 4 } },
          { path: 'pretrain.weightDecay', float: { low: 0, high: 0.2, step: 0.05 } },
          { path: 'mask.ratio', float: { low: 0.3, high: 0.8 } },
          { path: 'finetune.optimizer', categorical: { choices: ['adamw', 'sgd'] } },
          {
            path: 'finetune.weightDecay',
            float: { low: 0, high: 0.1 },
            when: { param: 'finetune.optimizer', in: ['adamw'] },
          },
        ],
      }),
    );
    expect(sweep.spec.search?.sampler).toBe('tpe');
    expect(sweep.spec.search?.tpe).toEqual({
      nStartupTrials: 10,
      nEiCandidates: 24,
      priorWeight: 1,
      considerEndpoints: false,
      multivariate: false,
      group: false,
      constantLiar: false,
    });
  });

  it("refuses bad distributions with the field named, by the tuner's rules", () => {
    const at = (parameter: Record<string, unknown>) =>
      problemsOf(searchSweep({ parameters: [parameter] }));
    expect(at({ path: 'finetune.lr', float: { low: 0.1, high: 0.01 } })).toEqual([
      'spec.search.parameters[0].float.high: must be greater than low (0.1), got 0.01',
    ]);
    expect(at({ path: 'finetune.weightDecay', float: { low: 0, high: 1, log: true } })).toEqual([
      'spec.search.parameters[0].float.low: must be > 0 for a log distribution, got 0',
    ]);
    expect(at({ path: 'finetune.lr', float: { low: 0.1, high: 1, log: true, step: 0.1 } })).toEqual(
      [
        'spec.search.parameters[0].float.log: cannot be combined with a step (Optuna refuses it too)',
      ],
    );
    expect(at({ path: 'finetune.optimizer', categorical: { choices: [] } })[0]).toMatch(
      /^spec\.search\.parameters\[0\]\.categorical\.choices: /,
    );
    expect(at({ path: 'finetune.lr' })).toEqual([
      'spec.search.parameters[0]: give exactly one of float, int or categorical',
    ]);
    expect(
      at({ path: 'finetune.lr', float: { low: 0.1, high: 1 }, int: { low: 1, high: 2 } }),
    ).toEqual([
      'spec.search.parameters[0]: give exactly one of float, int or categorical, not float and int',
    ]);
    expect(at({ path: 'seed', int: { low: 0, high: 3 } })[0]).toMatch(
      /^spec\.search\.parameters\[0\]\.path: .*match/,
    );
  });

  it('refuses values the trial config refuses: a float for an int field, a value out of range', () => {
    const at = (parameter: Record<string, unknown>) =>
      problemsOf(searchSweep({ parameters: [parameter] }));
    expect(at({ path: 'finetune.epochs', float: { low: 1, high: 10 } })).toEqual([
      'spec.search.parameters[0].float: finetune.epochs takes integers (spark trials): search it with int',
    ]);
    expect(at({ path: 'finetune.lr', float: { low: 0, high: 1 } })).toEqual([
      'spec.search.parameters[0].float.low: spark trials: finetune.lr: expected number to be greater than 0; got 0',
    ]);
    expect(at({ path: 'mask.ratio', float: { low: 0.5, high: 1 } })[0]).toMatch(
      /^spec\.search\.parameters\[0\]\.float\.high: random masks: mask\.ratio: /,
    );
    expect(
      at({ path: 'finetune.optimizer', categorical: { choices: ['adamw', 'adam'] } })[0],
    ).toMatch(
      /^spec\.search\.parameters\[0\]\.categorical\.choices\[1\]: spark trials: finetune\.optimizer: /,
    );
  });

  it('refuses a path no config of the grids has, and one that some methods lack unless conditioned', () => {
    const methods: TinySweepOptions = { methods: ['spark', 'simclr', 'scratch'] };
    expect(
      problemsOf(
        searchSweep({ parameters: [{ path: 'model.heads', int: { low: 1, high: 4 } }] }, methods),
      ),
    ).toEqual([
      'spec.search.parameters[0].path: spark trials, simclr trials, scratch trials have no model.heads',
    ]);
    expect(
      problemsOf(
        searchSweep(
          { parameters: [{ path: 'model.dropPath', float: { low: 0, high: 0.5 } }] },
          methods,
        ),
      ),
    ).toEqual([
      'spec.search.parameters[0].path: simclr trials have no model.dropPath; spark trials, scratch trials have it: condition the parameter with when',
    ]);
    const conditioned = {
      path: 'model.dropPath',
      float: { low: 0, high: 0.5 },
      when: { method: ['spark', 'scratch'] },
    };
    expect(problemsOf(searchSweep({ parameters: [conditioned] }, methods))).toEqual([]);
    // Scratch pre-trains nothing: its configs have no pretrain fields.
    expect(
      problemsOf(
        searchSweep(
          { parameters: [{ path: 'pretrain.lr', float: { low: 1e-4, high: 1e-2 } }] },
          methods,
        ),
      )[0],
    ).toMatch(/^spec\.search\.parameters\[0\]\.path: scratch trials have no pretrain\.lr/);
    // A square mask takes a size, not a ratio: the grid's masks must all have the field.
    const masks: TinySweepOptions = {
      masks: [
        { type: 'random', ratios: [0.6] },
        { type: 'square', sizes: [1] },
      ],
    };
    expect(
      problemsOf(
        searchSweep(
          { parameters: [{ path: 'mask.ratio', float: { low: 0.3, high: 0.7 } }] },
          masks,
        ),
      ),
    ).toEqual([
      'spec.search.parameters[0].path: square masks have no mask.ratio; random masks have it: condition the parameter with when',
    ]);
    expect(
      problemsOf(searchSweep({ parameters: [{ ...LR, when: { method: ['mff'] } }] }, methods)),
    ).toEqual([
      'spec.search.parameters[0].when.method: no config of the grids has one of these methods (mff)',
    ]);
  });

  it('checks conditions and the budget', () => {
    const optimizer = { path: 'finetune.optimizer', categorical: { choices: ['adamw', 'sgd'] } };
    expect(
      problemsOf(
        searchSweep({
          parameters: [{ ...LR, when: { param: 'finetune.optimizer', in: ['sgd'] } }, optimizer],
        }),
      ),
    ).toEqual([
      'spec.search.parameters[0].when.param: "finetune.optimizer" is neither an earlier parameter nor one of the fixed values',
    ]);
    expect(
      problemsOf(
        searchSweep({
          parameters: [optimizer, { ...LR, when: { param: 'finetune.optimizer', in: ['lamb'] } }],
        }),
      ),
    ).toEqual(['spec.search.parameters[1].when.in: "lamb" is not a choice of finetune.optimizer']);
    expect(
      problemsOf(
        searchSweep({ parameters: [optimizer, { ...LR, when: { param: 'finetune.optimizer' } }] }),
      ),
    ).toEqual(['spec.search.parameters[1].when.in: is required with when.param']);
    expect(problemsOf(searchSweep({ parameters: [LR, LR] }))).toEqual([
      'spec.search.parameters[1].path: "finetune.lr" is searched twice',
    ]);
    expect(problemsOf(tinySweep('search', { spec: { search: { parameters: [LR] } } }))).toEqual([
      'spec.maxTrials: is required with spec.search: it bounds the search',
    ]);
    expect(
      problemsOf(
        tinySweep('search', {
          seeds: [0, 1, 2],
          spec: { maxTrials: 10, search: { parameters: [LR] } },
        }),
      ),
    ).toEqual([
      'spec.maxTrials: with spec.search, must be a multiple of the 3 seeds (each suggestion runs once per seed), got 10',
    ]);
    expect(problemsOf(searchSweep({ parameters: [LR], tpe: { group: true } }))).toEqual([
      'spec.search.tpe.group: needs multivariate: true (as in Optuna)',
    ]);
  });

  it('bounds the checks of values against the grids, before making any', () => {
    const ratios = Array.from({ length: 32 }, (_, v) => 0.1 + v / 50);
    const manifest = searchSweep(
      { parameters: [{ path: 'mask.ratio', categorical: { choices: [0.3, 0.4, 0.5, 0.6, 0.7] } }] },
      {
        masks: Array.from({ length: 32 }, (_, m) => ({
          type: 'random',
          ratios: ratios.map((r) => r + m * 1e-4),
        })),
      },
    );
    (manifest.spec.datasets as { imageSize: number }).imageSize = 256;
    expect(problemsOf(manifest)).toEqual([
      `spec.search.parameters: checking the values against the grids' distinct settings takes ${1024 * 5} checks, over the limit of ${LIMITS.searchChecks}: fewer choices, or fewer mask values in the grids`,
    ]);
    // One choice fewer is 4,096 checks: within the limit.
    const fewer = structuredClone(manifest);
    fewer.spec.search = {
      parameters: [{ path: 'mask.ratio', categorical: { choices: [0.3, 0.4, 0.5, 0.6] } }],
    };
    expect(problemsOf(fewer)).toEqual([]);
  });
});

describe('sampledTrials', () => {
  const twoMethods = validateSweep(
    searchSweep(
      {
        parameters: [
          LR,
          {
            path: 'pretrain.lr',
            float: { low: 1e-4, high: 1e-2, log: true },
            when: { method: ['spark'] },
          },
          {
            path: 'mask.ratio',
            float: { low: 0.3, high: 0.8, step: 0.1 },
            when: { method: ['spark'] },
          },
          { path: 'finetune.optimizer', categorical: { choices: ['adamw', 'sgd'] } },
        ],
      },
      { methods: ['spark', 'scratch'], seeds: [0, 1] },
    ),
  );
  const plan = searchPlan(twoMethods);
  const [sparkKey, scratchKey] = [...plan.baseConfigs.keys()];
  const spark = (values: Record<string, unknown>) =>
    ({ [CONFIG_PARAMETER]: sparkKey as string, ...values }) as never;

  it("searches the grids' configs as a categorical, and method conditions as conditions on it", () => {
    expect(plan.space.map((p) => p.name)).toEqual([
      'config',
      'finetune.lr',
      'pretrain.lr',
      'mask.ratio',
      'finetune.optimizer',
    ]);
    expect(plan.space[0]?.distribution).toEqual({
      type: 'categorical',
      choices: [sparkKey, scratchKey],
    });
    expect(plan.space[2]?.when).toEqual({ param: 'config', in: [sparkKey] });
    expect(plan.space[1]?.when).toBeUndefined();
  });

  it('sets the values at their paths, once per seed, in configs the trial config schema accepts', () => {
    const trials = sampledTrials(
      twoMethods,
      spark({
        'finetune.lr': 3e-4,
        'pretrain.lr': 2e-3,
        'mask.ratio': 0.4,
        'finetune.optimizer': 'sgd',
      }),
      7,
      plan,
    );
    expect(trials.map((t) => t.seed)).toEqual([0, 1]);
    for (const trial of trials) {
      const { config } = trial;
      expect(config.finetune.lr).toBe(3e-4);
      expect(config.finetune.optimizer).toBe('sgd');
      expect(config.pretrain?.lr).toBe(2e-3);
      expect(config.mask?.ratio).toBe(0.4);
      expect(Value.Check(FinetuneStage, config.finetune)).toBe(true);
      expect(Value.Check(PretrainStage, config.pretrain)).toBe(true);
      expect(Value.Check(Model.properties.convnext, config.model)).toBe(true);
      expect(resolveMaskSetting(config.mask as never, 2)).toEqual(config.mask);
      expect(trial.suggestion.number).toBe(7);
      expect(trial.grids).toEqual(['grid-1']);
    }
    // The base config is not changed by a suggestion.
    expect(plan.baseConfigs.get(sparkKey as string)?.config.finetune.lr).toBe(1e-3);
  });

  it('names trials by config and seed, not by suggestion: a grid value gives the grid trial', () => {
    const values = {
      'finetune.lr': 3e-4,
      'pretrain.lr': 2e-3,
      'mask.ratio': 0.4,
      'finetune.optimizer': 'sgd',
    };
    const first = sampledTrials(twoMethods, spark(values), 0, plan).map((t) => t.name);
    expect(sampledTrials(twoMethods, spark(values), 5, plan).map((t) => t.name)).toEqual(first);
    expect(new Set(first).size).toBe(2);
    expect(
      sampledTrials(twoMethods, spark({ ...values, 'finetune.lr': 4e-4 }), 0, plan)[0]?.name,
    ).not.toBe(first[0]);
    // The grid's own values: the same names as the grid expansion without a search.
    const grid: SweepResource = { ...twoMethods, spec: { ...twoMethods.spec, search: undefined } };
    const gridTrials = expandSweep(grid).filter((t) => t.config.method === 'spark');
    const own = sampledTrials(
      twoMethods,
      spark({
        'finetune.lr': 1e-3,
        'pretrain.lr': 1e-3,
        'mask.ratio': 0.6,
        'finetune.optimizer': 'adamw',
      }),
      0,
      plan,
    );
    expect(own.map((t) => t.name)).toEqual(gridTrials.map((t) => t.name));
    expect(own.map((t) => t.pretrainKey)).toEqual(gridTrials.map((t) => t.pretrainKey));
  });

  it('shares pre-training when only fine-tuning values differ, and not when a pre-training value does', () => {
    const values = {
      'finetune.lr': 3e-4,
      'pretrain.lr': 2e-3,
      'mask.ratio': 0.4,
      'finetune.optimizer': 'sgd',
    };
    const [a] = sampledTrials(twoMethods, spark(values), 0, plan);
    const [b] = sampledTrials(
      twoMethods,
      spark({ ...values, 'finetune.lr': 5e-3, 'finetune.optimizer': 'adamw' }),
      1,
      plan,
    );
    const [c] = sampledTrials(twoMethods, spark({ ...values, 'pretrain.lr': 5e-3 }), 2, plan);
    const [d] = sampledTrials(twoMethods, spark({ ...values, 'mask.ratio': 0.5 }), 3, plan);
    expect(a?.pretrainKey).toMatch(/^pt-/);
    expect(b?.pretrainKey).toBe(a?.pretrainKey);
    expect(b?.name).not.toBe(a?.name);
    expect(c?.pretrainKey).not.toBe(a?.pretrainKey);
    expect(d?.pretrainKey).not.toBe(a?.pretrainKey);
    const [scratch] = sampledTrials(
      twoMethods,
      { config: scratchKey as string, 'finetune.lr': 3e-4, 'finetune.optimizer': 'sgd' },
      4,
      plan,
    );
    expect(scratch?.pretrainKey).toBeUndefined();
    expect(scratch?.config.pretrain).toBeNull();
  });

  it("takes the samplers' suggestions as they come: conditional values only where they apply", () => {
    const samplers = [new RandomSampler(3), new TpeSampler({ seed: 3, direction: 'maximize' })];
    for (const sampler of samplers) {
      for (let n = 0; n < 12; n++) {
        const suggestion = sampler.suggest({ space: plan.space, history: [], trialNumber: n });
        const [trial] = sampledTrials(twoMethods, suggestion, n, plan);
        const config = trial?.config;
        expect(config?.finetune.lr).toBe(suggestion['finetune.lr']);
        if (config?.method === 'spark') {
          expect(config.mask?.ratio).toBe(suggestion['mask.ratio']);
          expect(
            [0.3, 0.4, 0.5, 0.6, 0.7, 0.8].some(
              (r) => Math.abs(r - (config.mask?.ratio ?? 0)) < 1e-12,
            ),
          ).toBe(true);
        } else {
          expect(suggestion['pretrain.lr']).toBeUndefined();
        }
      }
    }
  });

  it('refuses a suggestion that does not fit: an unknown config, a value the field refuses', () => {
    expect(() => sampledTrials(twoMethods, { config: 'cfg-nope' }, 0, plan)).toThrow(
      /spec\.search: suggestion 0 picks no config of the grids: "cfg-nope"/,
    );
    expect(() => sampledTrials(twoMethods, spark({ 'finetune.lr': -1 }), 1, plan)).toThrow(
      SweepValidationError,
    );
    expect(() =>
      sampledTrials(
        twoMethods,
        { config: scratchKey as string, 'pretrain.lr': 1e-3 } as never,
        2,
        plan,
      ),
    ).toThrow(/suggestion 2: pretrain\.lr = 0\.001: scratch trials have no pretrain\.lr/);
  });

  it('with one config of the grids, searches no config parameter', () => {
    const one = validateSweep(searchSweep({ parameters: [LR] }));
    const onePlan = searchPlan(one);
    expect(onePlan.space.map((p) => p.name)).toEqual(['finetune.lr']);
    expect(sampledTrials(one, { 'finetune.lr': 1e-4 }, 0, onePlan)[0]?.config.finetune.lr).toBe(
      1e-4,
    );
  });

  it('is not run by the grids: expansion refuses a Sweep with a search in one line', () => {
    expect(() => expandSweep(twoMethods)).toThrow(
      'search: spec.search: searching is not run by this version yet',
    );
  });
});
