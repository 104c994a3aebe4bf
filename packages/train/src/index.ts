export { weightedCrossEntropy } from './class-weighted-loss.js';
export { DivergedError } from './diverged.js';
export {
  type Classifier,
  type EpochReport,
  type Evaluation,
  evaluate,
  type FinalValidation,
  type FinetuneOptions,
  type FinetuneResult,
  finetune,
  type LabelledImages,
} from './finetune.js';
export { type GradCamClassifier, gradCam, jet, overlayHeatmap } from './grad-cam.js';
export { maeReconstructionLoss } from './mff/loss.js';
export {
  MAE_BETAS,
  type MffPretrainOptions,
  type MffPretrainResult,
  pretrainMff,
} from './mff/pretrain.js';
export { optimizerStep } from './optimizer-step.js';
export {
  allFinite,
  clipByGlobalNorm,
  createOptimizer,
  decaysWeight,
  globalNorm,
  type NamedVariable,
  type Optimizer,
  type OptimizerConfig,
  VIT_NO_DECAY_NAMES,
} from './optimizers.js';
export { type PretrainOptions, type PretrainResult, pretrainSpark } from './pretrain.js';
export type { PretrainRun, PretrainStageOptions } from './pretrain-epochs.js';
export { progressReporter } from './progress.js';
export { learningRateAt, weightDecayAt } from './schedule.js';
export { ntXentLoss, SIMCLR_TEMPERATURE } from './simclr/nt-xent.js';
export {
  runSimclrPretraining,
  type SimclrPretrainOptions,
  type SimclrPretrainResult,
} from './simclr/pretrain.js';
export { patchify, sparkReconstructionLoss } from './spark-loss.js';
export { createStageOptimizer, type StageOptimizer } from './stage-optimizer.js';
export type { StageConfig, StepEvent } from './train-epochs.js';
export {
  PretrainingMissingError,
  type PretrainingRun,
  type RunPretrainingOptions,
  type RunTrialOptions,
  runPretraining,
  runTrial,
  type TrialResult,
} from './trial.js';
export { loadTrialData, type SampleSet, type TrialData } from './trial-data.js';
