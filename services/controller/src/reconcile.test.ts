import { validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';
import { initialState, resumedState, workloadName } from './reconcile.js';
import { World } from './reconcile.test-support.js';
import { countSweep, type SweepState } from './state.js';

/** 2 masks x 2 augmentations x 2 seeds: 8 trials over 4 pre-training keys. */
function sweep(spec: Record<string, unknown> = {}) {
  return validateSweep(
    tinySweep('unit', {
      masks: [{ type: 'random', ratios: [0.5, 0.7] }],
      augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
      seeds: [0, 1],
      parallelism: 2,
      retries: 1,
      spec,
    }),
  );
}

describe('reconcile', () => {
  it('runs one pre-training per key, within parallelism, then the fine-tuning of its trials', () => {
    const world = new World(initialState(sweep(), '.'));
    expect(Object.keys(world.state.trials)).toHaveLength(8);
    expect(Object.keys(world.state.pretrainings)).toHaveLength(4);
    const first = world.pass();
    expect(first.start.map((w) => w.stage)).toEqual(['pretrain', 'pretrain']);
    expect(world.pass().start).toEqual([]); // level-triggered: nothing twice
    world.drain();
    expect(world.state.phase).toBe('Succeeded');
    const stages = world.started.map((w) => w.stage);
    expect(stages.filter((s) => s === 'pretrain')).toHaveLength(4);
    expect(stages.filter((s) => s === 'finetune')).toHaveLength(8);
    expect(countSweep(world.state).best).toEqual({
      trial: expect.any(String),
      objective: 0.1,
    });
  });

  it('chooses the best trial on validation: the best test F1 with a worse validation F1 is not best', () => {
    const twoConfigs = (objective: Record<string, unknown>) =>
      sweep({
        seeds: [0],
        objective,
        grids: [
          {
            methods: ['spark'],
            masks: [{ type: 'random', ratios: [0.5] }],
            augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
          },
        ],
      });
    const finish = (objective: Record<string, unknown>) => {
      const world = new World(initialState(twoConfigs(objective), '.'));
      const [bestOnTest, bestOnValidation] = Object.keys(world.state.trials) as [string, string];
      world.results.set(bestOnTest, {
        valMetrics: { f1: 0.6, macro_f1: 0.7 },
        metrics: { f1: 0.95, macro_f1: 0.95 },
      });
      world.results.set(bestOnValidation, {
        valMetrics: { f1: 0.9, macro_f1: 0.5 },
        metrics: { f1: 0.7, macro_f1: 0.7 },
      });
      world.drain();
      return { world, bestOnTest, bestOnValidation };
    };
    const f1 = finish({ metric: 'f1' });
    expect(countSweep(f1.world.state).best).toEqual({
      trial: f1.bestOnValidation,
      objective: 0.9,
    });
    expect(f1.world.state.trials[f1.bestOnTest]?.objective).toBe(0.6);
    // The sweep's metric by its wire name among the validation metrics (macroF1 -> macro_f1).
    const macro = finish({ metric: 'macroF1' });
    expect(countSweep(macro.world.state).best).toEqual({ trial: macro.bestOnTest, objective: 0.7 });
    const lowest = finish({ metric: 'f1', direction: 'minimize' });
    expect(countSweep(lowest.world.state).best).toEqual({
      trial: lowest.bestOnTest,
      objective: 0.6,
    });
  });

  it('starts a scratch trial at once as one fine-tuning: it has no key to wait for', () => {
    const mixed = sweep({
      seeds: [0],
      grids: [
        {
          methods: ['spark', 'scratch'],
          masks: [{ type: 'random', ratios: [0.5, 0.7] }],
          augmentations: [{ type: 'none' }],
        },
      ],
    });
    const state = initialState(mixed, '.');
    // SparK: a trial and a key per mask; scratch: one trial whatever the masks, and no key.
    expect(Object.values(state.trials).map((t) => t.trial.config.method)).toEqual([
      'spark',
      'spark',
      'scratch',
    ]);
    expect(
      Object.values(state.pretrainings).map((p) => state.trials[p.trial]?.trial.config.method),
    ).toEqual(['spark', 'spark']);
    const world = new World(state);
    expect(world.pass().start.map((w) => [w.stage, w.trial.config.method])).toEqual([
      ['finetune', 'scratch'],
      ['pretrain', 'spark'],
    ]);
    world.drain();
    expect(world.state.phase).toBe('Succeeded');
    expect(countSweep(world.state)).toMatchObject({ total: 3, succeeded: 3 });
    const scratch = world.started.filter((w) => w.trial.config.method === 'scratch');
    expect(scratch.map((w) => w.stage)).toEqual(['finetune']);
    expect(world.started.filter((w) => w.stage === 'pretrain')).toHaveLength(2);
  });

  it('retries a scratch trial that failed like any fine-tuning, with nothing to pre-train', () => {
    const world = new World(initialState(sweep({ grids: [{ methods: ['scratch'] }] }), '.'));
    const [first] = world.pass().start;
    expect(first?.name).toMatch(/^finetune-unit-[0-9a-f]{10}-1$/);
    world.end(first?.name ?? '', 'TrainerError');
    world.now += 1000;
    world.drain();
    expect(world.started.every((w) => w.stage === 'finetune')).toBe(true);
    expect(world.started.map((w) => w.name)).toContain(first?.name.replace(/-1$/, '-2'));
    // 2 seeds: 2 trials
    expect(countSweep(world.state)).toMatchObject({ total: 2, succeeded: 2, failed: 0 });
  });

  it('reuses a pre-training run already in the store (another sweep made it)', () => {
    const state = initialState(sweep(), '.');
    const world = new World(state);
    for (const key of Object.keys(state.pretrainings)) world.stored.add(key);
    world.drain();
    expect(world.started.every((w) => w.stage === 'finetune')).toBe(true);
    expect(world.started).toHaveLength(8);
  });

  it('retries a trainer error up to `retries` after a back-off, then fails the trials with the reason', () => {
    const oneKey = sweep({
      seeds: [0],
      grids: [
        {
          methods: ['spark'],
          masks: [{ type: 'random', ratios: [0.5] }],
          augmentations: [{ type: 'none' }, { type: 'randomFlip' }],
        },
      ],
    });
    const world = new World(initialState(oneKey, '.'));
    const [first] = world.pass().start;
    world.end(first?.name ?? '', 'TrainerError');
    expect(world.pass().start).toEqual([]); // backing off
    world.now += 1000;
    const [retry] = world.pass().start;
    expect(retry?.name).toBe(first?.name.replace(/-1$/, '-2'));
    world.end(retry?.name ?? '', 'Interrupted');
    world.pass();
    const key = first?.trial.pretrainKey ?? '';
    expect(world.state.pretrainings[key]?.phase).toBe('Failed');
    const ofKey = Object.values(world.state.trials).filter((t) => t.trial.pretrainKey === key);
    expect(ofKey.map((t) => [t.phase, t.reason])).toEqual([
      ['Failed', 'Interrupted'],
      ['Failed', 'Interrupted'],
    ]);
  });

  it('does not retry a divergence', () => {
    const world = new World(initialState(sweep(), '.'));
    world.drain((w) => (w.stage === 'finetune' ? 'Diverged' : 'Completed'));
    expect(world.started.filter((w) => w.stage === 'finetune')).toHaveLength(8);
    expect(countSweep(world.state).diverged).toBe(8);
  });

  it('fails the sweep and stops what runs after maxFailedTrials', () => {
    const world = new World(initialState(sweep({ maxFailedTrials: 1, retries: 0 }), '.'));
    world.pass();
    const [a] = [...world.running.keys()];
    world.end(a ?? '', 'InvalidTrial');
    const actions = world.pass();
    expect(world.state.phase).toBe('Failed');
    expect(world.state.reason).toMatch(/MaxFailedTrials: 2 trials failed, more than 1/);
    expect(actions.stop).toHaveLength(1);
  });

  it('ends a pruned trial as Pruned, stops its fine-tuning and gives its slot to the next', () => {
    const world = new World(initialState(sweep({ pruner: { type: 'median' } }), '.'));
    for (const key of Object.keys(world.state.pretrainings)) world.stored.add(key);
    const [first, second] = world.pass().start;
    if (!first || !second) throw new Error('two fine-tunings start');
    expect(first.name).toBe(workloadName({ ...first }));
    expect(first.name).toBe(`finetune-${first.trial.name}-1`);
    world.pruned.set(first.trial.name, { step: 20, value: 0.1 });
    // A trial that is not fine-tuning (it already ended, or never ran) is not stopped twice.
    world.pruned.set('unknown-trial', { step: 10, value: 0.1 });
    const actions = world.pass();
    expect(actions.stop).toEqual([first.name]);
    expect(actions.pruned).toEqual([
      {
        workload: first,
        reason: 'Pruned',
        message: 'stopped by the median pruner at step 20',
      },
    ]);
    expect(world.state.trials[first.trial.name]).toMatchObject({
      phase: 'Pruned',
      reason: 'Pruned',
    });
    expect(actions.start.map((w) => w.stage)).toEqual(['finetune']);
    expect(world.running.has(second.name)).toBe(true);
    expect(world.pass().pruned).toEqual([]);
    world.drain();
    expect(countSweep(world.state)).toMatchObject({ pruned: 1, succeeded: 7 });
  });

  it('resumes after a restart without counting the lost run as an attempt', () => {
    const world = new World(initialState(sweep(), '.'));
    world.pass();
    const restarted = new World(resumedState(structuredClone(world.state)));
    const again = restarted.pass().start;
    expect(again.map((w) => w.name)).toEqual(world.started.map((w) => w.name));
  });

  it('creates at most maxTrials trials', () => {
    expect(Object.keys(initialState(sweep({ maxTrials: 3 }), '.').trials)).toHaveLength(3);
  });
});
