/**
 * What a reported result has that the stored one of the same trial and attempt has not: a
 * retry sends the same message, so any difference is a conflict worth telling the sender.
 * When it finished and how long it took are left out: an attempt run again after its
 * runner was interrupted (`masksweep run` resumes the same attempt) ends with the same
 * figures at another time, and is the same result.
 */
import type { TrialResult } from './types.js';

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
