export { binomialCdf, normalQuantile, studentTQuantile } from './distributions.js';
export { checkInteger, checkNumber, InvalidArgumentError } from './errors.js';
export {
  type HierarchicalBootstrapOptions,
  type HierarchicalInterval,
  hierarchicalBootstrap,
  hierarchicalBootstrapMetrics,
  type PairedHierarchicalDifference,
  type PairedHierarchicalOptions,
  pairedHierarchicalDifference,
  pairedHierarchicalDifferences,
  type SeedDifference,
  type SeedValue,
} from './hierarchical.js';
export {
  type ClassificationMetrics,
  type ClassScores,
  type ConfusionMatrix,
  classificationMetrics,
  confusionMatrix,
  METRIC_NAMES,
  type MetricName,
  metricOf,
} from './metrics.js';
export type { SeedPredictions, TestSet } from './seed-groups.js';
export { type DetectableDifferenceOptions, detectableDifference, holm } from './significance.js';
export {
  type BootstrapOptions,
  bootstrapInterval,
  type Interval,
  type McNemarResult,
  type MeanInterval,
  mcnemarExact,
  meanInterval,
  pairedBootstrapDifference,
  quantileOfSorted,
  type SampleMetric,
} from './statistics.js';
