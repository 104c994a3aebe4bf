export { AshaPruner, type AshaPrunerOptions } from './asha-pruner.js';
export {
  MedianPruner,
  nanPercentile,
  PercentilePruner,
  type PercentilePrunerOptions,
} from './percentile-pruner.js';
export {
  type Direction,
  lastStep,
  type Pruner,
  Study,
  type StudyTrial,
  type TrialState,
} from './study.js';
