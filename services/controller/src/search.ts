/**
 * Ask and tell for a Sweep with `spec.search` (docs/search.md): the pass asks the sampler
 * for suggestions while `parallelism` leaves room and the Trials are below `maxTrials`, and
 * tells it each suggestion's outcome: the mean validation objective over its seeds, or
 * failed, pruned, running. The sampler keeps nothing: its history is rebuilt from the state
 * on every pass (suggestions in number order), so a driver restarted from its state asks
 * for the same next suggestion, numbered as before, and never duplicates a Trial.
 */
import {
  type SampledTrial,
  type SearchPlan,
  type SweepResource,
  sampledTrials,
  searchPlan,
} from '@masksweep/api';
import { type ObservedTrial, RandomSampler, type Sampler, TpeSampler } from '@masksweep/tuner';
import {
  addTrial,
  type SuggestionState,
  type SweepState,
  TERMINAL_TRIAL_PHASES,
  type TrialState,
} from './state.js';

/**
 * Suggestions in a row that add no Trial (each gives Trials that exist) after which the
 * space counts as exhausted: the sampler keeps picking what has run, and the search ends
 * with the Trials it has, below maxTrials.
 */
export const MAX_DUPLICATES_IN_A_ROW = 100;

/** The sampler of a Sweep's search: its seed, options and the objective's direction. */
export function createSampler(sweep: SweepResource): Sampler {
  const search = sweep.spec.search;
  if (!search) throw new Error(`Sweep ${sweep.metadata.name} has no spec.search`);
  if (search.sampler === 'random') return new RandomSampler(search.seed);
  return new TpeSampler({
    ...search.tpe,
    seed: search.seed,
    direction: sweep.spec.objective.direction,
  });
}

/** The plan of each Sweep object (the grids' base configs are expanded once per run). */
const plans = new WeakMap<SweepResource, SearchPlan>();
function planOf(sweep: SweepResource): SearchPlan {
  let plan = plans.get(sweep);
  if (!plan) {
    plan = searchPlan(sweep);
    plans.set(sweep, plan);
  }
  return plan;
}

/**
 * What the sampler is told of a suggestion, from its Trials: running while any of them is
 * open; failed when any failed or diverged, or succeeded without the objective metric;
 * pruned when any was pruned, with its last report (lastReport); otherwise complete, with
 * the mean validation objective over its seeds.
 */
export function suggestionOutcome(state: SweepState, suggestion: SuggestionState): ObservedTrial {
  const trials = suggestion.trials
    .map((name) => state.trials[name])
    .filter((t): t is TrialState => t !== undefined);
  const params = suggestion.params;
  if (trials.length < suggestion.trials.length) return { params, state: 'failed' };
  if (trials.some((t) => !TERMINAL_TRIAL_PHASES.has(t.phase))) return { params, state: 'running' };
  const failed = (t: TrialState) =>
    t.phase === 'Failed' ||
    t.phase === 'Diverged' ||
    (t.phase === 'Succeeded' && t.objective === undefined);
  if (trials.some(failed)) return { params, state: 'failed' };
  const pruned = trials.filter((t) => t.phase === 'Pruned');
  if (pruned.length > 0) return { params, state: 'pruned', ...lastReport(pruned) };
  const sum = trials.reduce((total, t) => total + (t.objective as number), 0);
  return { params, state: 'complete', value: sum / trials.length };
}

/**
 * A pruned suggestion's last report, as Optuna ranks a pruned trial: the deepest step its
 * pruned seeds were stopped at and the mean of their values there. None when the state has
 * no value (a state from before values were kept): then it ranks after those with one.
 */
function lastReport(pruned: readonly TrialState[]): Pick<ObservedTrial, 'intermediate'> {
  const reports = pruned.flatMap((t) => (t.prunedAt ? [t.prunedAt] : []));
  if (reports.length === 0) return {};
  const step = Math.max(...reports.map((r) => r.step));
  const atStep = reports.filter((r) => r.step === step);
  const value = atStep.reduce((sum, r) => sum + r.value, 0) / atStep.length;
  return { intermediate: new Map([[step, value]]) };
}

/** The sampler's history: every suggestion so far, in number order, as it stands now. */
export function searchHistory(state: SweepState): ObservedTrial[] {
  return (state.suggestions ?? []).map((s) => suggestionOutcome(state, s));
}

/** Whether the search asks for no more: maxTrials reached, or the space exhausted. */
export function searchFinished(state: SweepState): boolean {
  const maxTrials = state.sweep.spec.maxTrials ?? 0;
  return (
    Object.keys(state.trials).length >= maxTrials ||
    duplicatesInARow(state) >= MAX_DUPLICATES_IN_A_ROW
  );
}

function duplicatesInARow(state: SweepState): number {
  const suggestions = state.suggestions ?? [];
  let count = 0;
  for (let i = suggestions.length - 1; i >= 0 && !suggestions[i]?.created; i--) count++;
  return count;
}

/**
 * Asks the sampler for suggestions while fewer Trials than `parallelism` are open and the
 * search is not finished, adding each suggestion's Trials (one per seed) to the state. A
 * suggestion whose config and seed give Trials that exist adds none: it is recorded with
 * those Trials and told their outcome (trials are seeded: running the same config again
 * would give the same value). Returns the Trials added. Throws SweepValidationError when a
 * suggestion does not fit the grids' configs (validation should have refused the space).
 */
export function askSuggestions(state: SweepState): SampledTrial[] {
  const { sweep } = state;
  const suggestions = state.suggestions ?? [];
  state.suggestions = suggestions;
  const plan = planOf(sweep);
  const sampler = createSampler(sweep);
  const added: SampledTrial[] = [];
  let open = Object.values(state.trials).filter((t) => !TERMINAL_TRIAL_PHASES.has(t.phase)).length;
  let history: ObservedTrial[] | undefined;
  while (open < sweep.spec.parallelism && !searchFinished(state)) {
    history ??= searchHistory(state);
    const number = suggestions.length;
    const params = sampler.suggest({ space: plan.space, history, trialNumber: number });
    const trials = sampledTrials(sweep, params, number, plan);
    let created = false;
    for (const trial of trials) {
      if (state.trials[trial.name]) continue;
      addTrial(state, trial);
      added.push(trial);
      created = true;
    }
    const suggestion: SuggestionState = {
      number,
      params,
      trials: trials.map((t) => t.name),
      created,
    };
    suggestions.push(suggestion);
    history.push(suggestionOutcome(state, suggestion));
    open = Object.values(state.trials).filter((t) => !TERMINAL_TRIAL_PHASES.has(t.phase)).length;
  }
  return added;
}
