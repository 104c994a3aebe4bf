export { AshaPruner, type AshaPrunerOptions } from './asha-pruner.js';
export {
  MedianPruner,
  nanPercentile,
  PercentilePruner,
  type PercentilePrunerOptions,
} from './percentile-pruner.js';
export {
  type CategoricalDistribution,
  type Distribution,
  distributionProblems,
  type FloatDistribution,
  type IntDistribution,
  type JsonValue,
  sampleUniform,
} from './samplers/distributions.js';
export {
  defaultGamma,
  type ObservedTrial,
  RandomSampler,
  type Sampler,
  type SuggestRequest,
  TPE_DEFAULTS,
  type TpeOptions,
  TpeSampler,
} from './samplers/samplers.js';
export {
  isActive,
  type Params,
  type SearchCondition,
  type SearchParameter,
  searchSpaceProblems,
} from './samplers/search-space.js';
export {
  type Direction,
  lastStep,
  type Pruner,
  Study,
  type StudyTrial,
  type TrialState,
} from './study.js';
