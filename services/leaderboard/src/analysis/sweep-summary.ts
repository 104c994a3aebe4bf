/**
 * A sweep's results summarised: per config its metrics over seeds (./config-summary.ts),
 * the trivial classifiers of each test set (./trivial.ts) and the tables of each grid
 * (./tables.ts). A query over the store, cached per sweep and confidence and brought up to
 * date from the configs stored since: only their summaries, and the comparisons they take
 * part in, are computed again.
 */
import { metricName } from '@masksweep/api/contracts';
import type { PairedDifference, ResultTable, TrialConfig, TrivialSummary } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import { evictOldest } from '../store/lru.js';
import {
  requireSweep,
  type SeedPredictionRow,
  type SeedResultRow,
  type Statements,
  toConfig,
} from '../store/statements.js';
import type { ConfigSummary, SweepSummary, SweepSummaryInput } from '../store/types.js';
import { requireConfidence, requireName } from '../store/validate.js';
import {
  type ConfigPredictions,
  RESAMPLES,
  type StoredSeed,
  summarizeConfig,
} from './config-summary.js';
import { differencesWith } from './paired.js';
import {
  buildGridTables,
  type ComparedPair,
  type Objective,
  orderGrids,
  pairKey,
} from './tables.js';
import { trivialSummaries } from './trivial.js';

const MAX_CACHED_SUMMARIES = 16;

interface CachedSweep {
  sequence: number;
  specJson: string;
  summary: SweepSummary;
  predictions: Map<string, ConfigPredictions>;
  /** By `row\0reference\0metric`: a comparison, or why there is none. */
  comparisons: Map<string, PairedDifference | string>;
  /** By test set. */
  trivial: Map<string, TrivialSummary[]>;
  /** By grid, and the config keys of each grid. */
  tables: Map<string, ResultTable[]>;
  gridMembers: Map<string, string[]>;
  /** The test sets of the configs (for their trivial classifiers). */
  testSets: Set<string>;
}

export class SweepSummaries {
  readonly #statements: Statements;
  readonly #cache = new Map<string, CachedSweep>();

  constructor(statements: Statements) {
    this.#statements = statements;
  }

  get(request: SweepSummaryInput): SweepSummary {
    const statements = this.#statements;
    const namespace = requireName('namespace', request.namespace);
    const sweep = requireName('sweep', request.sweep);
    const confidence = requireConfidence('confidence', request.confidence);
    const specJson = requireSweep(statements, namespace, sweep).spec_json;
    const sequence = statements.sweepLatestSequence.get(namespace, sweep)?.sequence ?? 0;
    const cacheKey = `${namespace}\0${sweep}\0${confidence}`;
    const cached = this.#cache.get(cacheKey);
    if (cached?.sequence === sequence && cached.specJson === specJson) return cached.summary;

    // Only the configs with results stored since the cached summary are summarised again
    // (a later attempt keeps its trial's config key, so no other config can change).
    const changedKeys = cached
      ? statements.configKeysSince.all(namespace, sweep, cached.sequence).map((r) => r.config_key)
      : undefined;
    const stored = changedKeys
      ? changedKeys.map((key) =>
          storedSeeds(
            statements.configSeedResults.all(namespace, sweep, key),
            statements.configSeedPredictions.all(namespace, sweep, key),
          ),
        )
      : [
          storedSeeds(
            statements.sweepSeedResults.all(namespace, sweep),
            statements.sweepSeedPredictions.all(namespace, sweep),
          ),
        ];
    // The cached state's maps are carried over (the cached summary itself is left as callers
    // got it): work after a new result is about the configs it changed, not the sweep.
    const state: CachedSweep = {
      sequence,
      specJson,
      summary: cached?.summary ?? emptySummary(namespace, sweep),
      predictions: cached?.predictions ?? new Map(),
      comparisons: cached?.comparisons ?? new Map(),
      trivial: cached?.trivial ?? new Map(),
      tables: cached?.tables ?? new Map(),
      testSets: cached?.testSets ?? new Set(),
      gridMembers: cached?.gridMembers ?? new Map(),
    };
    // The grids whose tables change: those of the configs summarised again, or all of them
    // when the Sweep's spec (its objective) changed.
    const touched = new Set<string>();
    // Each config is its lowest seed's trial's: all at once for a whole sweep.
    const configRows = cached
      ? undefined
      : new Map(statements.sweepConfigs.all(namespace, sweep).map((row) => [row.config_key, row]));
    // A new array (the cached summary stays as callers got it), kept in config key order.
    const configs = state.summary.configs.slice();
    let resultCount = state.summary.resultCount;
    for (const [key, seeds] of stored.flatMap((byConfig) => [...byConfig])) {
      const { summary, predictions } = summarizeConfig(key, seeds, { confidence });
      const first =
        configRows?.get(key) ??
        statements.configOfTrial.get(namespace, summary.trials[0] as string);
      const updated = {
        config: groupConfig(toConfig(first as NonNullable<typeof first>)),
        ...summary,
      };
      const index = configIndex(configs, key);
      if (configs[index]?.config.configKey === key) {
        resultCount -= (configs[index] as ConfigSummary).seeds.length;
        configs[index] = updated;
      } else {
        configs.splice(index, 0, updated);
        for (const grid of updated.config.grids) {
          const members = state.gridMembers.get(grid);
          if (members) members.push(key);
          else state.gridMembers.set(grid, [key]);
        }
      }
      resultCount += updated.seeds.length;
      state.predictions.set(key, predictions);
      if (updated.testSet !== '') state.testSets.add(updated.testSet);
      for (const grid of updated.config.grids) touched.add(grid);
      for (const pair of state.comparisons.keys()) {
        if (pair.split('\0').slice(0, 2).includes(key)) state.comparisons.delete(pair);
      }
    }

    const objective = objectiveOf(specJson);
    const trivialOf = (testSet: string): TrivialSummary[] => {
      let trivial = state.trivial.get(testSet);
      if (!trivial) {
        const source = [...state.predictions.values()].find((p) => p.testSet === testSet);
        trivial = source ? trivialSummaries(source, { confidence }) : [];
        state.trivial.set(testSet, trivial);
      }
      return trivial;
    };
    // Comparisons are kept per pair: a pair's result depends on its two configs only.
    const compare = (pairs: readonly ComparedPair[], metric: string) => {
      const results = new Map<string, PairedDifference | string>();
      const missing = new Map<string, string[]>();
      for (const pair of pairs) {
        const cached = state.comparisons.get(`${pairKey(pair)}\0${metric}`);
        if (cached !== undefined) results.set(pairKey(pair), cached);
        else missing.set(pair.reference, [...(missing.get(pair.reference) ?? []), pair.row]);
      }
      for (const [reference, rows] of missing) {
        const base = state.predictions.get(reference) as ConfigPredictions;
        const computed = differencesWith(
          base,
          [...new Set(rows)].map((row) => state.predictions.get(row) as ConfigPredictions),
          metric,
          {
            numClasses: base.numClasses,
            confidence,
            seed: new Random(0).fork('compare', reference, metric).seed,
          },
        );
        for (const [row, comparison] of computed) {
          results.set(pairKey({ row, reference }), comparison);
          state.comparisons.set(`${pairKey({ row, reference })}\0${metric}`, comparison);
        }
      }
      return results;
    };
    const inputs = { objective, compare, trivialOf };
    const gridOrder = gridNamesOf(specJson);
    const rebuild = !cached || cached.specJson !== specJson ? state.gridMembers.keys() : touched;
    for (const grid of [...rebuild]) {
      // In config key order, as a fresh summary has them.
      const members = [...(state.gridMembers.get(grid) ?? [])]
        .sort()
        .map((key) => configs[configIndex(configs, key)] as ConfigSummary);
      state.tables.set(grid, buildGridTables(grid, members, inputs));
    }
    state.summary = {
      namespace,
      sweep,
      resultCount,
      configs,
      tables: orderGrids(state.tables.keys(), gridOrder).flatMap(
        (grid) => state.tables.get(grid) as ResultTable[],
      ),
      trivial: [...state.testSets].sort().flatMap(trivialOf),
      objective: objective.metric,
      objectiveMinimizes: objective.minimizes,
      confidence,
      resamples: RESAMPLES,
    };
    this.#cache.delete(cacheKey);
    this.#cache.set(cacheKey, state);
    evictOldest(this.#cache, MAX_CACHED_SUMMARIES);
    return state.summary;
  }
}

/**
 * Result rows (in config, seed, id order) with their predictions, as stored seeds by
 * config. Predictions arrive in result and sample id order. A seed counts once: of two
 * trials of one (config, seed), stored before the store refused the second, the first is kept.
 */
function storedSeeds(
  results: readonly SeedResultRow[],
  predictions: readonly SeedPredictionRow[],
): Map<string, StoredSeed[]> {
  const byConfig = new Map<string, StoredSeed[]>();
  const byId = new Map<number, StoredSeed>();
  for (const [id, key, trial, seed, metricsJson, valMetricsJson, numClasses] of results) {
    const stored: StoredSeed = {
      trial,
      seed,
      metrics: JSON.parse(metricsJson) as Record<string, number>,
      valMetrics: JSON.parse(valMetricsJson) as Record<string, number>,
      numClasses,
      sampleIds: [],
      labels: [],
      predictions: [],
    };
    const seeds = byConfig.get(key);
    if (seeds?.at(-1)?.seed === seed) continue;
    byId.set(id, stored);
    if (seeds) seeds.push(stored);
    else byConfig.set(key, [stored]);
  }
  for (const [resultId, sampleId, label, predicted] of predictions) {
    const stored = byId.get(resultId);
    if (!stored) continue;
    stored.sampleIds.push(sampleId);
    stored.labels.push(label);
    stored.predictions.push(predicted);
  }
  return byConfig;
}

/** The Sweep's objective (spec.objective), f1 maximised when the spec names none. */
export function objectiveOf(specJson: string): Objective {
  const objective = parsedSpec(specJson)?.objective as
    | { metric?: unknown; direction?: unknown }
    | undefined;
  const metric = typeof objective?.metric === 'string' ? objective.metric : 'f1';
  return {
    // The spec names it in camel case (macroF1), results by wire name (macro_f1).
    metric: metricName(metric),
    minimizes: objective?.direction === 'minimize',
  };
}

/** The names of the Sweep's grids, in its order (unnamed grids left out). */
function gridNamesOf(specJson: string): string[] {
  const grids = parsedSpec(specJson)?.grids;
  if (!Array.isArray(grids)) return [];
  return grids
    .map((grid: unknown) => (grid as { name?: unknown } | null)?.name)
    .filter((name): name is string => typeof name === 'string');
}

function parsedSpec(specJson: string): Record<string, unknown> | undefined {
  try {
    const spec = (JSON.parse(specJson) as { spec?: unknown } | null)?.spec;
    return spec !== null && typeof spec === 'object'
      ? (spec as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function emptySummary(namespace: string, sweep: string): SweepSummary {
  return {
    namespace,
    sweep,
    resultCount: 0,
    configs: [],
    tables: [],
    trivial: [],
    objective: 'f1',
    objectiveMinimizes: false,
    confidence: 0.95,
    resamples: RESAMPLES,
  };
}

/** The config of a whole group, from one of its trials: seed 0 and no seed in the JSON. */
export function groupConfig(trialConfig: TrialConfig): TrialConfig {
  const { seed: _seed, ...rest } = JSON.parse(trialConfig.configJson) as Record<string, unknown>;
  return { ...trialConfig, seed: 0, configJson: JSON.stringify(rest) };
}

/** Where `key` is, or belongs, in configs sorted by config key (binary search). */
function configIndex(configs: readonly ConfigSummary[], key: string): number {
  let low = 0;
  let high = configs.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((configs[middle] as ConfigSummary).config.configKey < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
