import { type SampledTrial, searchPlan, type Trial, validateSweep } from '@masksweep/api';
import { tinySweep } from '@masksweep/api/test-support';
import { describe, expect, it } from 'vitest';
import { initialState, resumedState } from './reconcile.js';
import { World } from './reconcile.test-support.js';
import {
  createSampler,
  MAX_DUPLICATES_IN_A_ROW,
  searchHistory,
  suggestionOutcome,
} from './search.js';
import { countSweep, type SweepState, TERMINAL_TRIAL_PHASES } from './state.js';

const LR = { path: 'finetune.lr', float: { low: 1e-4, high: 1e-2, log: true } };

/** A search over finetune.lr on one SparK config (one pre-training key for every trial). */
function searchSweep(
  options: { seeds?: number[]; parallelism?: number; maxTrials?: number } = {},
  search: Record<string, unknown> = {},
) {
  return validateSweep(
    tinySweep('search', {
      seeds: options.seeds ?? [0, 1],
      parallelism: options.parallelism ?? 2,
      spec: {
        maxTrials: options.maxTrials ?? 8,
        search: { sampler: 'random', parameters: [LR], ...search },
      },
    }),
  );
}

/**
 * Validation F1 peaks at lr 1e-3 and moves with the seed; test F1 is its opposite, so a
 * driver that read test metrics would tell the sampler other values.
 */
function metricsOf(trial: Trial) {
  const val = 0.9 - Math.abs(Math.log10(trial.config.finetune.lr) + 3) / 4 + trial.seed / 100;
  return { valMetrics: { f1: val }, metrics: { f1: 1 - val } };
}

/** Ends every running workload, scoring the trials that finish, as the drivers see them. */
function finishRunning(world: World) {
  for (const t of Object.values(world.state.trials))
    world.results.set(t.trial.name, metricsOf(t.trial));
  for (const w of [...world.running.values()]) world.end(w.name);
  world.now += 60_000;
}

const openTrials = (state: SweepState) =>
  Object.values(state.trials).filter((t) => !TERMINAL_TRIAL_PHASES.has(t.phase)).length;

/** Runs to the end; `restart` reloads the state from its JSON after every pass, as a new `masksweep run` would. */
function runSearch(sweep: ReturnType<typeof searchSweep>, restart = false) {
  let world = new World(initialState(sweep, '.'));
  const seen: number[] = [];
  for (let pass = 0; pass < 200 && world.state.phase !== 'Succeeded'; pass++) {
    world.pass();
    seen.push(openTrials(world.state));
    expect(world.running.size).toBeLessThanOrEqual(sweep.spec.parallelism);
    if (restart && pass % 2 === 1) {
      // Killed mid-pass: its workloads die with it; the state file is all that is left.
      const saved = JSON.parse(JSON.stringify(world.state)) as SweepState;
      const next = new World(resumedState({ ...saved, sweep }));
      next.stored = world.stored;
      next.now = world.now;
      world = next;
      continue;
    }
    finishRunning(world);
  }
  return { state: world.state, open: seen };
}

describe('ask and tell', () => {
  it('starts with no trials, asks while parallelism leaves room, and stops at exactly maxTrials', () => {
    const sweep = searchSweep({ seeds: [0, 1], parallelism: 2, maxTrials: 8 });
    expect(Object.keys(initialState(sweep, '.').trials)).toEqual([]);
    const { state, open } = runSearch(sweep);
    expect(state.phase).toBe('Succeeded');
    expect(Object.keys(state.trials)).toHaveLength(8);
    expect(state.suggestions?.map((s) => s.number)).toEqual([0, 1, 2, 3]);
    // One suggestion (two seeds) at a time: a second would exceed parallelism 2.
    expect(Math.max(...open)).toBe(2);
    // Each suggestion: one trial per seed; lr is a fine-tuning value, so every suggestion
    // shares the one pre-training run of each seed.
    expect(Object.keys(state.pretrainings)).toHaveLength(2);
    for (const s of state.suggestions ?? []) {
      expect(s.trials.map((name) => state.trials[name]?.trial.seed)).toEqual([0, 1]);
    }
    // Finished: more passes ask nothing.
    const world = new World(state);
    world.pass();
    expect(state.suggestions).toHaveLength(4);
    expect(countSweep(state)).toMatchObject({
      total: 8,
      planned: 8,
      suggestions: { asked: 4, told: 4 },
    });
  });

  it('with more parallelism, asks several suggestions in one pass', () => {
    const world = new World(
      initialState(searchSweep({ seeds: [0], parallelism: 3, maxTrials: 5 }), '.'),
    );
    world.pass();
    expect(world.state.suggestions).toHaveLength(3);
    finishRunning(world);
    world.pass(); // the pre-training ended: three fine-tunings start, no room to ask
    expect(world.state.suggestions).toHaveLength(3);
    finishRunning(world);
    world.pass();
    expect(Object.keys(world.state.trials)).toHaveLength(5);
  });

  it('tells the mean validation objective over the seeds, never a test metric', () => {
    const { state } = runSearch(searchSweep({ seeds: [0, 1], maxTrials: 4 }));
    const history = searchHistory(state);
    expect(history.map((h) => h.state)).toEqual(['complete', 'complete']);
    for (const [i, s] of (state.suggestions ?? []).entries()) {
      const trials = s.trials.map((name) => state.trials[name]?.trial as Trial);
      const val = trials.map((t) => metricsOf(t).valMetrics.f1);
      const test = trials.map((t) => metricsOf(t).metrics.f1);
      expect(history[i]?.value).toBeCloseTo((val[0] + val[1]) / 2, 12);
      expect(history[i]?.value).not.toBeCloseTo((test[0] + test[1]) / 2, 3);
      expect(history[i]?.params).toEqual(s.params);
    }
  });

  it('tells a suggestion running until all its seeds end, then failed or pruned if one was', () => {
    const world = new World(
      initialState(searchSweep({ seeds: [0, 1], parallelism: 2, maxTrials: 4 }), '.'),
    );
    world.pass();
    finishRunning(world); // the pre-training
    world.pass();
    const [first, second] = [...world.running.values()];
    world.end(first?.name as string, 'Diverged');
    world.pass();
    const suggestion = world.state.suggestions?.[0];
    if (!suggestion) throw new Error('no suggestion');
    expect(suggestionOutcome(world.state, suggestion).state).toBe('running');
    world.end(second?.name as string);
    world.pass();
    expect(suggestionOutcome(world.state, suggestion)).toEqual({
      params: suggestion.params,
      state: 'failed',
    });
    // The failed suggestion freed the room: the next is asked and its trials pruned.
    const next = world.state.suggestions?.[1];
    if (!next) throw new Error('no second suggestion');
    world.pass();
    // Seed 0 stopped at step 3, seed 1 at step 5: ranked by the deeper one's report.
    const [seed0, seed1] = next.trials as [string, string];
    world.pruned.set(seed0, { step: 3, value: 0.9 });
    world.pruned.set(seed1, { step: 5, value: 0.4 });
    world.pass();
    expect(suggestionOutcome(world.state, next)).toEqual({
      params: next.params,
      state: 'pruned',
      intermediate: new Map([[5, 0.4]]),
    });
  });

  it('after a restart from the state file, suggests the same trials and duplicates none (parallelism 1)', () => {
    const sweep = searchSweep(
      { seeds: [0], parallelism: 1, maxTrials: 6 },
      { sampler: 'tpe', tpe: { nStartupTrials: 2 } },
    );
    const straight = runSearch(sweep);
    const restarted = runSearch(sweep, true);
    expect(restarted.state.phase).toBe('Succeeded');
    expect(Object.keys(restarted.state.trials)).toEqual(Object.keys(straight.state.trials));
    expect(Object.keys(restarted.state.trials)).toHaveLength(6);
    expect(restarted.state.suggestions).toEqual(straight.state.suggestions);
    // TPE took over after two: the later suggestions depend on the told values.
    const plan = searchPlan(sweep);
    const sampler = createSampler(sweep);
    const history = searchHistory(straight.state);
    expect(
      sampler.suggest({ space: plan.space, history: history.slice(0, 4), trialNumber: 4 }),
    ).toEqual(straight.state.suggestions?.[4]?.params);
  });

  it('tells the constant liar the suggestions still running', () => {
    const sweep = searchSweep(
      { seeds: [0], parallelism: 3, maxTrials: 6 },
      { sampler: 'tpe', tpe: { nStartupTrials: 2, constantLiar: true } },
    );
    const world = new World(initialState(sweep, '.'));
    world.pass();
    finishRunning(world); // pre-training
    world.pass();
    finishRunning(world); // three fine-tunings: 3 complete
    world.pass(); // asks 3, 4, 5: 4 while 3 runs, 5 while 3 and 4 run
    const suggestions = world.state.suggestions ?? [];
    expect(suggestions).toHaveLength(6);
    const history = searchHistory(world.state);
    expect(history.map((h) => h.state)).toEqual([
      'complete',
      'complete',
      'complete',
      'running',
      'running',
      'running',
    ]);
    const plan = searchPlan(sweep);
    const sampler = createSampler(sweep);
    const asked = (n: number, told: typeof history) =>
      sampler.suggest({ space: plan.space, history: told, trialNumber: n });
    expect(asked(5, history.slice(0, 5))).toEqual(suggestions[5]?.params);
    // Without the running ones TPE would have suggested something else.
    expect(asked(5, history.slice(0, 3))).not.toEqual(suggestions[5]?.params);
  });

  it('records a suggestion of existing trials without a duplicate, tells it their outcome, and ends when the space is exhausted', () => {
    const sweep = searchSweep(
      { seeds: [0], parallelism: 1, maxTrials: 4 },
      { parameters: [{ path: 'finetune.optimizer', categorical: { choices: ['adamw', 'sgd'] } }] },
    );
    const { state } = runSearch(sweep);
    expect(state.phase).toBe('Succeeded');
    // Two configs exist; maxTrials 4 cannot be reached.
    expect(Object.keys(state.trials)).toHaveLength(2);
    const suggestions = state.suggestions ?? [];
    const duplicates = suggestions.filter((s) => !s.created);
    expect(duplicates.length).toBeGreaterThanOrEqual(MAX_DUPLICATES_IN_A_ROW);
    expect(suggestions.slice(-MAX_DUPLICATES_IN_A_ROW).every((s) => !s.created)).toBe(true);
    const history = searchHistory(state);
    for (const s of duplicates) {
      const original = suggestions.find((o) => o.created && o.trials[0] === s.trials[0]);
      expect(history[s.number]).toEqual(history[original?.number as number]);
    }
    // The trials carry the suggestion that created them.
    for (const t of Object.values(state.trials)) {
      const created = (t.trial as SampledTrial).suggestion;
      expect(suggestions[created.number]?.created).toBe(true);
    }
  });
});
