/**
 * What a trial tells the rest of masksweep, as protobuf messages: metric events while it
 * trains (every N steps and at every validation) and its result at the end.
 */
import {
  canonicalJson,
  metricName,
  type Trial,
  trialSummary,
  validationMetricName,
} from '@masksweep/api';
import {
  type MessageInit,
  type MetricEvent,
  MetricKind,
  Stage,
  type TrialResult as TrialResultMessage,
} from '@masksweep/proto';
import type { EpochReport, StepEvent, TrialResult } from '@masksweep/train';

/** Which attempt of which trial of which sweep. */
export interface TrialAttempt {
  namespace: string;
  sweep: string;
  trial: string;
  attempt: number;
}

/** The validation metrics each epoch reports, named `val_<snake case>` on the bus. */
const VALIDATION_METRICS = ['f1', 'recall', 'precision', 'accuracy', 'macroF1'] as const;
/** The metrics of a result, validation and test alike, named in snake case. */
const RESULT_METRICS = [
  'f1',
  'recall',
  'precision',
  'accuracy',
  'macroF1',
  'macroPrecision',
  'macroRecall',
] as const;

/**
 * A result's metrics of one split by their wire names (`macro_f1`): the result's `metrics`
 * (test) and `val_metrics` (validation), and the termination message's validation metrics.
 */
export function resultMetrics(
  metrics: Record<(typeof RESULT_METRICS)[number], number>,
): Record<string, number> {
  return Object.fromEntries(RESULT_METRICS.map((metric) => [metricName(metric), metrics[metric]]));
}

const STAGES = { pretrain: Stage.STAGE_PRETRAIN, finetune: Stage.STAGE_FINETUNE } as const;

export function stepMetricEvent(
  attempt: TrialAttempt,
  event: StepEvent,
  wallTimeMs = Date.now(),
): MessageInit<MetricEvent> {
  return {
    ...attempt,
    stage: STAGES[event.stage],
    kind: MetricKind.METRIC_KIND_TRAIN,
    step: event.step,
    epoch: event.epoch,
    values: {
      loss: event.loss,
      lr: event.lr,
      images_per_second: event.imagesPerSecond,
      ...event.extra,
    },
    wallTimeMs,
  };
}

export function validationMetricEvent(
  attempt: TrialAttempt,
  report: EpochReport,
  wallTimeMs = Date.now(),
): MessageInit<MetricEvent> {
  const { val } = report;
  return {
    ...attempt,
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_VALIDATION,
    step: report.step,
    epoch: report.epoch,
    values: {
      train_loss: report.trainLoss,
      ...Object.fromEntries(
        VALIDATION_METRICS.map((metric) => [validationMetricName(metric), val[metric]]),
      ),
    },
    wallTimeMs,
  };
}

/**
 * The result for ReportResult: validation metrics at the end of fine-tuning (what choices
 * read), test metrics (with the bootstrap interval bounds of each as
 * `<metric>_ci_low/_ci_high`), the test confusion matrix and per-sample predictions, and the
 * artifacts, named relative to `artifactsBase` (the trial folder's place in the store).
 */
export function resultMessage(
  attempt: TrialAttempt,
  trial: Trial,
  result: TrialResult,
  options: { artifactsBase: string; durationSeconds: number; finishedAtMs?: number },
): MessageInit<TrialResultMessage> {
  const { metrics, confusion, intervals, predictions } = result.test;
  const bounds = Object.entries(intervals).flatMap(([name, interval]) => {
    const key = metricName(name);
    return [
      [`${key}_ci_low`, interval.low],
      [`${key}_ci_high`, interval.high],
    ];
  });
  return {
    ...attempt,
    // A scratch trial has no key: empty on the wire (leaderboard.proto).
    config: {
      ...trialSummary(trial),
      pretrainKey: trial.pretrainKey ?? '',
      configJson: canonicalJson(trial.config),
      grids: trial.grids,
    },
    confusionMatrix: { numClasses: confusion.length, counts: confusion.flat() },
    metrics: { ...resultMetrics(metrics), ...Object.fromEntries(bounds) },
    valMetrics: resultMetrics(result.val.metrics),
    predictions: predictions.map((p) => ({
      sampleId: p.id,
      label: p.label,
      predicted: p.prediction,
      probabilities: p.probabilities,
    })),
    artifacts: result.artifacts.map((file) => ({
      name: file,
      uri: `${options.artifactsBase}/${file}`,
      mediaType: file.endsWith('.png') ? 'image/png' : 'application/octet-stream',
    })),
    finishedAtMs: options.finishedAtMs ?? Date.now(),
    durationSeconds: options.durationSeconds,
  };
}
