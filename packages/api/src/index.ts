export {
  AUGMENTATION_TYPES,
  AUGMENTATIONS,
  type AugmentationSetting,
  type AugmentationType,
} from './augmentations.js';
export {
  type FinetuneTermination,
  finetuneTerminationMessage,
  metricName,
  parseFinetuneTermination,
  TRIAL_EXIT_CODES,
  type TrialExitReason,
  trialExitReason,
  validatedMetricOf,
  validationMetricName,
} from './contracts.js';
export { crdFiles, sweepCrd, toStructuralSchema, trialCrd } from './crd.js';
export { formatPath, formatProblem, type SweepProblem, SweepValidationError } from './errors.js';
export {
  type CountedExpansion,
  configKey,
  countTrials,
  expandSweep,
  expandSweepCounted,
  hasPretraining,
  type PretrainedTrial,
  pretrainKey,
  searchNotRunProblem,
  type Trial,
  type TrialConfig,
  type TrialSummary,
  trialSummary,
} from './expand.js';
export { gridName } from './grids.js';
export { canonicalJson, stableHash } from './hash.js';
export { LIMITS } from './limits.js';
export { METHOD_NAMES, METHODS, type Method } from './methods.js';
export {
  Condition,
  PRETRAIN_PHASES,
  SWEEP_PHASES,
  type SweepObject,
  SweepStatus,
  TRIAL_PHASES,
  type TrialObject,
  type TrialSpecSummary,
  TrialStatus,
} from './resources.js';
export * from './schema.js';
export {
  type BaseConfig,
  baseConfigsOf,
  CONFIG_PARAMETER,
  type SampledTrial,
  type SearchPlan,
  sampledTrials,
  searchPlan,
  searchProblems,
} from './search.js';
export * from './search-schema.js';
export {
  findProblems,
  type LoadedSweep,
  loadSweepFile,
  parseSweepYaml,
  type ValidateOptions,
  validateSweep,
} from './validate.js';
