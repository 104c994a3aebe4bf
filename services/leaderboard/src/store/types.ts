/**
 * The store's domain types. They mirror the messages of proto/masksweep/v1 structurally
 * (camelCase field names as protobufjs gives them, 64-bit integers as numbers, maps as
 * records, repeated fields as arrays), so generated messages can be passed in and the
 * returned objects handed to the generated encoders without conversion.
 */

// Leaf messages are the generated ones themselves.
export type { Artifact, ConfusionMatrix, Prediction, TrialConfig } from '@masksweep/proto';

import type { Artifact, ConfusionMatrix, Prediction, TrialConfig } from '@masksweep/proto';

/** A stored trial result, as the store returns it. */
export interface TrialResult {
  namespace: string;
  sweep: string;
  trial: string;
  attempt: number;
  config: TrialConfig;
  confusionMatrix: ConfusionMatrix;
  /** accuracy, precision, recall, f1, ... */
  metrics: Record<string, number>;
  /** Empty unless asked for (lists) or for getResult. */
  predictions: Prediction[];
  artifacts: Artifact[];
  finishedAtMs: number;
  durationSeconds: number;
  /** The order in which results were stored; set by the store. */
  sequence: number;
}

/**
 * A result as reported. Message fields and repeated fields may be absent or null, as in
 * decoded protobuf messages; validation says which required one is missing.
 */
export interface TrialResultInput {
  namespace: string;
  sweep: string;
  trial: string;
  attempt: number;
  config?: TrialConfig | null;
  confusionMatrix?: ConfusionMatrix | null;
  metrics?: Record<string, number> | null;
  predictions?: Prediction[] | null;
  artifacts?: Artifact[] | null;
  finishedAtMs: number;
  durationSeconds: number;
  /** Ignored: the store assigns it. */
  sequence?: number;
}

/** events.proto's Stage. */
export const Stage = { pretrain: 1, finetune: 2, evaluate: 3 } as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** events.proto's MetricKind. */
export const MetricKind = { train: 1, validation: 2 } as const;
export type MetricKind = (typeof MetricKind)[keyof typeof MetricKind];

/** Metric values of one trial attempt at one step of a stage (events.proto's MetricEvent). */
export interface MetricEvent {
  namespace: string;
  sweep: string;
  trial: string;
  attempt: number;
  stage: number;
  kind: number;
  step: number;
  epoch: number;
  values: Record<string, number>;
  wallTimeMs: number;
}

/** One stored metric value of a curve. */
export interface MetricPoint {
  /** Increases with every stored point: the cursor for live curves. */
  id: number;
  sweep: string;
  trial: string;
  attempt: number;
  stage: number;
  kind: number;
  step: number;
  epoch: number;
  name: string;
  /** NaN when a diverged run reported a non-number. */
  value: number;
  wallTimeMs: number;
}

export interface RegisterSweepRequest {
  namespace: string;
  sweep: string;
  /** The Sweep resource as JSON. */
  specJson: string;
  trialCount: number;
}

export interface SweepInfo {
  namespace: string;
  sweep: string;
  specJson: string;
  trialCount: number;
  createdAtMs: number;
  /** Current results (one per trial). */
  resultCount: number;
}

export interface ListResultsRequest {
  namespace: string;
  /** Empty or absent for every sweep of the namespace. */
  sweep?: string;
  /** Dotted config paths (method, mask.type, finetune.lr, ...) to the value wanted, as text. */
  configFilter?: Record<string, string>;
  /**
   * A metric name (f1, recall, ...), `trial` or `finished_at`. Results without the metric
   * rank lowest: last when descending, first when ascending.
   * @default 'f1'
   */
  sortBy?: string;
  /** @default false */
  ascending?: boolean;
  /**
   * At most 1000; 0 or absent for the default.
   * @default 50
   */
  pageSize?: number;
  /** From the previous response; empty for the first page. */
  pageToken?: string;
  /** @default false */
  includePredictions?: boolean;
}

export interface ListResultsResponse {
  results: TrialResult[];
  /** Empty on the last page. */
  nextPageToken: string;
  totalCount: number;
}

export interface GetSweepSummaryRequest {
  namespace: string;
  sweep: string;
  /**
   * 0 or absent for the default.
   * @default 0.95
   */
  confidence?: number;
}

export interface MetricSummary {
  mean: number;
  /** Sample standard deviation; NaN when n is 1. */
  std: number;
  /** Student-t interval of the mean over seeds; NaN when n is 1. */
  ciLow: number;
  ciHigh: number;
  n: number;
}

export interface ConfigSummary {
  /** The config of the group's lowest seed, with seed 0 and the seed left out of configJson. */
  config: TrialConfig;
  metrics: Record<string, MetricSummary>;
  /** Ascending. */
  seeds: number[];
  /** The trial of each seed, in the order of seeds (not in the proto message). */
  trials: string[];
}

export interface SweepSummary {
  namespace: string;
  sweep: string;
  resultCount: number;
  /** In config key order. */
  configs: ConfigSummary[];
}

export interface CompareConfigsRequest {
  namespace: string;
  sweep: string;
  configKeyA: string;
  configKeyB: string;
  /**
   * accuracy, precision, recall, f1, macro_precision, macro_recall or macro_f1 (camelCase
   * also accepted).
   * @default 'f1'
   */
  metric?: string;
  /** @default 2000 */
  resamples?: number;
  /** @default 0.95 */
  confidence?: number;
  /** Seed of the bootstrap: the same request gives the same interval. */
  seed?: number;
}

export interface CompareConfigsResponse {
  /** Samples (per seed, by sample id) that both configs predicted. */
  pairedSamples: number;
  /** metric(A) − metric(B) on the paired samples. */
  difference: number;
  ciLow: number;
  ciHigh: number;
  onlyACorrect: number;
  onlyBCorrect: number;
  mcnemarPValue: number;
}

/** What a committed write changed; listeners get it right after the commit. */
export type StoreChange =
  | { type: 'sweep'; namespace: string; sweep: string }
  | { type: 'result'; namespace: string; sweep: string; trial: string; sequence: number }
  | {
      type: 'metrics';
      /** Each (namespace, sweep) that got new points. */
      sweeps: Array<{ namespace: string; sweep: string }>;
      /** The id of the last point stored. */
      lastPointId: number;
    };
