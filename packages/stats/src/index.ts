export { binomialCdf, normalQuantile, studentTQuantile } from './distributions.js';
export { checkInteger, checkNumber, InvalidArgumentError } from './errors.js';
export {
  type ClassificationMetrics,
  type ClassScores,
  type ConfusionMatrix,
  classificationMetrics,
  confusionMatrix,
  type MetricName,
  metricOf,
} from './metrics.js';
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
