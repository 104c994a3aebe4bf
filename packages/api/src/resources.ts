/**
 * The Sweep and Trial objects as the API server keeps them: metadata, spec and the status the
 * controller writes. The statuses are TypeBox schemas, like the spec, so that one definition
 * types the code and becomes the CRDs' status schemas (crd.ts). Every status field is
 * optional in the CRD unless the controller always writes it with its parent.
 */
import type { KubeObject } from '@masksweep/kube';
import { type Static, Type } from '@sinclair/typebox';
import type { Trial, TrialSummary } from './expand.js';
import { type SweepResource, stringEnum } from './schema.js';

export const SWEEP_PHASES = ['Created', 'Running', 'Succeeded', 'Failed', 'Invalid'] as const;
export const PRETRAIN_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Diverged'] as const;
export const TRIAL_PHASES = [
  'Pending',
  'Pretraining',
  'Finetuning',
  'Succeeded',
  'Failed',
  'Diverged',
  'Pruned',
] as const;

const DateTime = Type.String({ format: 'date-time' });
const Counter = Type.Integer({ minimum: 0 });

export const Condition = Type.Object({
  type: Type.String(),
  status: stringEnum(['True', 'False', 'Unknown'] as const),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.Optional(DateTime),
  observedGeneration: Type.Optional(Type.Integer()),
});

/** Conditions keyed by type: a server-side apply merges them one by one. */
const Conditions = Type.Array(Condition, {
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

/** A Sweep's status: counters and the best trial, never a list of trials. */
export const SweepStatus = Type.Object({
  phase: Type.Optional(stringEnum(SWEEP_PHASES)),
  observedGeneration: Type.Optional(Type.Integer()),
  progress: Type.Optional(Type.String()),
  trials: Type.Optional(
    Type.Object({
      total: Counter,
      created: Counter,
      pending: Counter,
      running: Counter,
      succeeded: Counter,
      failed: Counter,
      diverged: Counter,
      pruned: Counter,
    }),
  ),
  pretrainings: Type.Optional(Type.Object({ total: Counter, succeeded: Counter })),
  bestTrial: Type.Optional(
    Type.Object(
      { name: Type.String(), objective: Type.Number() },
      { description: 'the succeeded trial with the best objective, on validation' },
    ),
  ),
  conditions: Type.Optional(Conditions),
  startTime: Type.Optional(DateTime),
  completionTime: Type.Optional(DateTime),
});

export const TrialStatus = Type.Object({
  phase: Type.Optional(stringEnum(TRIAL_PHASES)),
  observedGeneration: Type.Optional(Type.Integer()),
  stage: Type.Optional(stringEnum(['pretrain', 'finetune'] as const)),
  attempt: Type.Optional(Counter),
  objective: Type.Optional(
    Type.Number({
      description: "the Sweep's objective metric on the validation split at the end of fine-tuning",
    }),
  ),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  job: Type.Optional(Type.String()),
  finetuneAttempts: Type.Optional(Counter),
  retryAfter: Type.Optional(DateTime),
  pretrain: Type.Optional(
    Type.Object(
      {
        phase: stringEnum(PRETRAIN_PHASES),
        attempts: Counter,
        retryAfter: Type.Optional(DateTime),
        reason: Type.Optional(Type.String()),
        message: Type.Optional(Type.String()),
      },
      {
        description:
          "the pre-training run of the trial's key, kept on the first trial of the key in the Sweep",
      },
    ),
  ),
  conditions: Type.Optional(Conditions),
  startTime: Type.Optional(DateTime),
  completionTime: Type.Optional(DateTime),
});

export type Condition = Static<typeof Condition>;
export type SweepStatus = Static<typeof SweepStatus>;
export type TrialStatus = Static<typeof TrialStatus>;

export interface SweepObject extends KubeObject {
  spec: SweepResource['spec'];
  status?: SweepStatus;
}

/** trialSummary's fields; `maskType` only when the method masks. */
export type TrialSpecSummary = Omit<TrialSummary, 'maskType'> & { maskType?: string };

export interface TrialObject extends KubeObject {
  spec: TrialSpecSummary & { sweep: string; config: Trial['config'] };
  status?: TrialStatus;
}
