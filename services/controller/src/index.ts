export {
  type ControllerLog,
  KubeController,
  type KubeControllerOptions,
  type ReconcilePass,
} from './kube/controller.js';
export {
  ensureNatsAuthority,
  ensureTrialNatsCredentials,
  NATS_AUTHORITY_KEYS,
  type NatsIssuer,
} from './kube/nats-credentials.js';
export {
  type JobSettings,
  jobName,
  jobObject,
  LABELS,
} from './kube/resources.js';
export { LocalExecutor, type LocalExecutorOptions } from './local-executor.js';
export {
  type LocalSweepOptions,
  loadState,
  runLocalSweep,
  StateMismatchError,
  saveState,
} from './local-sweep.js';
export { createPruner, PruningMonitor, PruningStreams, type PruningWatch } from './pruning.js';
export {
  type Actions,
  initialState,
  type Observation,
  type ReconcileOptions,
  reconcile,
  resumedState,
  type StageAttempt,
  type Workload,
  type WorkloadEnd,
  workload,
  workloadName,
} from './reconcile.js';
export * from './state.js';
