/**
 * The store's types. The wire messages are proto/masksweep/v1's, as @masksweep/proto
 * generates them; the store narrows a few (a stored result always has its config and
 * confusion matrix) and takes requests with the proto's defaults left out. Its own types
 * (curves, sweeps, changes) have no message.
 */
import type * as proto from '@masksweep/proto';
import type { ConfusionMatrix, MetricKind, Stage, TrialConfig } from '@masksweep/proto';

/** A stored trial result: the message with its config and confusion matrix always set. */
export type TrialResult = proto.TrialResult & {
  config: TrialConfig;
  confusionMatrix: ConfusionMatrix;
};

type AbsentInReports = 'confusionMatrix' | 'metrics' | 'valMetrics' | 'predictions' | 'artifacts';

/**
 * A result as reported. Message fields and repeated fields may be absent or null, as in
 * decoded protobuf messages; validation says which required one is missing. The store
 * assigns the sequence and ignores one given.
 */
export type TrialResultInput = Omit<proto.TrialResult, AbsentInReports | 'config' | 'sequence'> & {
  [K in AbsentInReports]?: proto.TrialResult[K] | null;
} & { config?: TrialConfigInput | null; sequence?: number };

/** A reported config; its grids may be absent too. */
export type TrialConfigInput = Omit<TrialConfig, 'grids'> & { grids?: string[] | null };

/**
 * A request as the store takes it: the named fields are required, the others may be left
 * out for the proto's default (as an absent field decodes).
 */
export type StoreRequest<T, Required extends keyof T> = Pick<T, Required> &
  Partial<Omit<T, Required>>;

/** Results without the sort metric rank lowest: last when descending, first when ascending. */
export type ListResultsInput = StoreRequest<proto.ListResultsRequest, 'namespace'>;
export type SweepSummaryInput = StoreRequest<proto.GetSweepSummaryRequest, 'namespace' | 'sweep'>;
export type CompareConfigsInput = StoreRequest<
  proto.CompareConfigsRequest,
  'namespace' | 'sweep' | 'configKeyA' | 'configKeyB'
>;

export type ListResultsResponse = Omit<proto.ListResultsResponse, 'results'> & {
  results: TrialResult[];
};

export type ConfigSummary = proto.ConfigSummary & {
  /** The config of the group's lowest seed, with seed 0 and the seed left out of configJson. */
  config: TrialConfig;
  /** The trial of each seed, in the order of seeds (not in the proto message). */
  trials: string[];
};

export type SweepSummary = Omit<proto.SweepSummary, 'configs'> & {
  /** In config key order. */
  configs: ConfigSummary[];
};

/** One stored metric value of a curve. */
export interface MetricPoint {
  /** Increases with every stored point: the cursor for live curves. */
  id: number;
  sweep: string;
  trial: string;
  attempt: number;
  stage: Stage;
  kind: MetricKind;
  step: number;
  epoch: number;
  name: string;
  /** NaN when a diverged run reported a non-number. */
  value: number;
  wallTimeMs: number;
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
