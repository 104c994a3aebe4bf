/**
 * What a reported result has that the stored one of the same trial and attempt has not: a
 * retry sends the same message, so any difference is a conflict worth telling the sender.
 * When it finished and how long it took are left out: an attempt run again after its
 * runner was interrupted (`masksweep run` resumes the same attempt) ends with the same
 * figures at another time, and is the same result.
 */
import { ConflictError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { type Statements, toResult } from './statements.js';
import type { TrialResult } from './types.js';

/** A repeated (trial, attempt) must be a retry of the stored result: ConflictError if not. */
export function checkSameResult(
  statements: Statements,
  result: TrialResult,
  metrics: Metrics | undefined,
): void {
  const row = statements.resultByTrial.get(result.namespace, result.trial);
  const stored = row && toResult(statements, row, true);
  const differing = stored ? differingFields(stored, result) : [];
  if (differing.length === 0) return;
  metrics?.resultsIgnored.inc({ reason: 'conflict' });
  throw new ConflictError(
    differing[0] as string,
    `trial ${JSON.stringify(result.trial)} attempt ${result.attempt} is stored with other values of ${differing.join(', ')}; a retry must send the same result, a new run a higher attempt`,
  );
}

/** A sweep has one trial per (config, seed), so no seed counts twice in a summary. */
export function checkOneTrialPerSeed(
  statements: Statements,
  result: TrialResult,
  metrics: Metrics | undefined,
): void {
  const { namespace, sweep, trial, config } = result;
  const other = statements.otherTrialOfSeed.get(
    namespace,
    sweep,
    config.configKey,
    config.seed,
    trial,
  );
  if (!other) return;
  metrics?.resultsIgnored.inc({ reason: 'seed_taken' });
  throw new ConflictError(
    'result.config.seed',
    `config ${config.configKey} seed ${config.seed} of sweep ${JSON.stringify(sweep)} is stored as trial ${JSON.stringify(other.trial)}; trial ${JSON.stringify(trial)} would count the same seed twice`,
  );
}

/** The proto fields whose values differ, in message order (empty for a faithful retry). */
export function differingFields(stored: TrialResult, reported: TrialResult): string[] {
  const { config: a } = stored;
  const { config: b } = reported;
  // Probabilities are stored as float32: compare the reported ones as they would be stored.
  const predictions = (result: TrialResult) =>
    result.predictions
      .map((p) => [p.sampleId, p.label, p.predicted, p.probabilities.map(Math.fround)] as const)
      // The store reads predictions back in sample id order.
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const fields: Array<[string, unknown, unknown]> = [
    ['result.sweep', stored.sweep, reported.sweep],
    ['result.config.config_key', a.configKey, b.configKey],
    ['result.config.method', a.method, b.method],
    ['result.config.mask_type', a.maskType, b.maskType],
    ['result.config.mask_ratio', a.maskRatio, b.maskRatio],
    ['result.config.mask_size', a.maskSize, b.maskSize],
    ['result.config.augmentation', a.augmentation, b.augmentation],
    ['result.config.seed', a.seed, b.seed],
    ['result.config.pretrain_key', a.pretrainKey, b.pretrainKey],
    ['result.config.config_json', a.configJson, b.configJson],
    ['result.config.grids', a.grids, b.grids],
    ['result.confusion_matrix', stored.confusionMatrix, reported.confusionMatrix],
    ['result.metrics', sorted(stored.metrics), sorted(reported.metrics)],
    ['result.val_metrics', sorted(stored.valMetrics), sorted(reported.valMetrics)],
    ['result.predictions', predictions(stored), predictions(reported)],
    ['result.artifacts', stored.artifacts, reported.artifacts],
  ];
  return fields
    .filter(([, x, y]) => JSON.stringify(x) !== JSON.stringify(y))
    .map(([field]) => field);
}

function sorted(values: Record<string, number>): Array<[string, number]> {
  return Object.entries(values).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
