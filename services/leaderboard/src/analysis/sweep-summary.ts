/**
 * A sweep's results summarised per config over its seeds, with a Student-t interval of each
 * metric's mean (meanInterval from @masksweep/stats): a query over the store, cached per
 * sweep and confidence and brought up to date from the configs stored since.
 */
import type { MetricSummary, TrialConfig } from '@masksweep/proto';
import { meanInterval } from '@masksweep/stats';
import { evictOldest } from '../store/lru.js';
import { requireSweep, type Statements, toConfig } from '../store/statements.js';
import type { ConfigSummary, SweepSummary, SweepSummaryInput } from '../store/types.js';
import { requireConfidence, requireName } from '../store/validate.js';

const MAX_CACHED_SUMMARIES = 16;

/** What a summary needs of one stored result. */
export interface SeedResult {
  trial: string;
  seed: number;
  metrics: Record<string, number>;
}

export type SeedSummary = Omit<ConfigSummary, 'config'>;

export class SweepSummaries {
  readonly #statements: Statements;
  readonly #cache = new Map<string, { sequence: number; summary: SweepSummary }>();

  constructor(statements: Statements) {
    this.#statements = statements;
  }

  get(request: SweepSummaryInput): SweepSummary {
    const statements = this.#statements;
    const namespace = requireName('namespace', request.namespace);
    const sweep = requireName('sweep', request.sweep);
    const confidence = requireConfidence('confidence', request.confidence);
    requireSweep(statements, namespace, sweep);
    const sequence = statements.sweepLatestSequence.get(namespace, sweep)?.sequence ?? 0;
    const cacheKey = `${namespace}\0${sweep}\0${confidence}`;
    const cached = this.#cache.get(cacheKey);
    if (cached?.sequence === sequence) return cached.summary;

    // Only the configs with results stored since the cached summary are summarised again
    // (a later attempt keeps its trial's config key, so no other group can change). Rows
    // stream in (config, seed) order, each group summarised as soon as it is complete.
    const changedKeys = cached
      ? statements.configKeysSince
          .all(namespace, sweep, cached.sequence)
          .map((row) => row.config_key)
      : undefined;
    const rows = changedKeys
      ? changedKeys.flatMap((key) => statements.configSeedResults.all(namespace, sweep, key))
      : statements.sweepSeedResults.iterate(namespace, sweep);
    const summarized: Array<[string, SeedSummary]> = [];
    let groupKey: string | undefined;
    let members: SeedResult[] = [];
    const finishGroup = () => {
      if (groupKey !== undefined) summarized.push([groupKey, summarizeSeeds(members, confidence)]);
    };
    for (const [key, trial, seed, metricsJson] of rows) {
      if (key !== groupKey) {
        finishGroup();
        groupKey = key;
        members = [];
      }
      members.push({ trial, seed, metrics: JSON.parse(metricsJson) as Record<string, number> });
    }
    finishGroup();
    // A new array (the cached summary stays as callers got it), kept in config key order.
    const configs = cached ? cached.summary.configs.slice() : [];
    for (const [key, seeds] of summarized) {
      const first = statements.resultByTrial.get(namespace, seeds.trials[0] as string);
      const updated = {
        config: groupConfig(toConfig(first as NonNullable<typeof first>)),
        ...seeds,
      };
      const index = configIndex(configs, key);
      if (configs[index]?.config.configKey === key) configs[index] = updated;
      else configs.splice(index, 0, updated);
    }
    const summary: SweepSummary = {
      namespace,
      sweep,
      resultCount: configs.reduce((sum, config) => sum + config.seeds.length, 0),
      configs,
    };
    this.#cache.delete(cacheKey);
    this.#cache.set(cacheKey, { sequence, summary });
    evictOldest(this.#cache, MAX_CACHED_SUMMARIES);
    return summary;
  }
}

/** `results` are one config's, in ascending seed order. */
export function summarizeSeeds(results: readonly SeedResult[], confidence: number): SeedSummary {
  const valuesByMetric = new Map<string, number[]>();
  for (const { metrics } of results) {
    for (const [name, value] of Object.entries(metrics)) {
      const values = valuesByMetric.get(name);
      if (values) values.push(value);
      else valuesByMetric.set(name, [value]);
    }
  }
  const metrics: Record<string, MetricSummary> = {};
  for (const name of [...valuesByMetric.keys()].sort()) {
    const { mean, std, low, high, n } = meanInterval(
      valuesByMetric.get(name) as number[],
      confidence,
    );
    metrics[name] = { mean, std, ciLow: low, ciHigh: high, n };
  }
  return {
    metrics,
    seeds: results.map((result) => result.seed),
    trials: results.map((result) => result.trial),
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
