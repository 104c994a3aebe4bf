export { weightedCrossEntropy } from './class-weighted-loss.js';
export { DivergedError } from './diverged.js';
export {
  type EpochReport,
  type Evaluation,
  evaluate,
  type FinetuneOptions,
  type FinetuneResult,
  finetune,
  type LabelledImages,
} from './finetune.js';
export { gradCam, jet, overlayHeatmap } from './grad-cam.js';
export {
  allFinite,
  clipByGlobalNorm,
  createOptimizer,
  decaysWeight,
  globalNorm,
  type NamedVariable,
  type Optimizer,
  type OptimizerConfig,
} from './optimizers.js';
export {
  type PretrainOptions,
  type PretrainResult,
  pretrainSpark,
  type StageConfig,
  type StepEvent,
} from './pretrain.js';
export { progressReporter } from './progress.js';
export { learningRateAt, weightDecayAt } from './schedule.js';
export { patchify, sparkReconstructionLoss } from './spark-loss.js';
export {
  PretrainingMissingError,
  type PretrainingRun,
  type RunPretrainingOptions,
  type RunTrialOptions,
  runPretraining,
  runTrial,
  type TrialResult,
  UnsupportedMethodError,
} from './trial.js';
export { loadTrialData, type SampleSet, type TrialData } from './trial-data.js';
