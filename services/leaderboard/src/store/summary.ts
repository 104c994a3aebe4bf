/**
 * One config's results over its seeds, summarised per metric with a Student-t interval of
 * the mean (meanInterval from @masksweep/stats).
 */

import type { MetricSummary, TrialConfig } from '@masksweep/proto';
import { meanInterval } from '@masksweep/stats';
import type { ConfigSummary } from './types.js';

/** What a summary needs of one stored result. */
export interface SeedResult {
  trial: string;
  seed: number;
  metrics: Record<string, number>;
}

export type SeedSummary = Omit<ConfigSummary, 'config'>;

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
