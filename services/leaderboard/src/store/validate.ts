/**
 * Checks of what crosses into the store. Each refusal names the proto field (snake_case,
 * with indices and map keys) and the value, so a client can find what it sent wrong.
 */

import { metricName } from '@masksweep/api';
import { type MetricEvent, MetricKind, type RegisterSweepRequest, Stage } from '@masksweep/proto';
import { METRIC_NAMES } from '@masksweep/stats';
import {
  InvalidMetricEventError,
  InvalidRequestError,
  InvalidResultError,
  type LeaderboardError,
} from '../errors.js';
import type { TrialResult, TrialResultInput } from './types.js';

/** Kubernetes names are at most 253 characters; trial names need not be DNS names here. */
export const MAX_NAME_LENGTH = 253;
/** Metric names go into JSON paths (quoted), so they keep to a plain alphabet. */
export const METRIC_NAME = /^[A-Za-z0-9_.:/-]{1,100}$/;

/**
 * The latest time a timestamp may name: 9999-12-31T23:59:59.999Z, the last instant an ISO
 * date writes with a four-digit year (JavaScript dates end at 8.64e15 ms, in year 275760).
 * Timestamps are milliseconds since 1970-01-01 UTC, from 0 to this.
 */
export const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/**
 * The highest attempt number a result or event may carry, far above what a Sweep may ask
 * (LIMITS.retries, 100, in @masksweep/api). It keeps a uint32 of -1 (4294967295 on the
 * wire) from shadowing every real attempt, since a stored attempt is only replaced by a
 * later one.
 */
export const MAX_ATTEMPT = 1000;
/** Names a metric may not have: JavaScript objects give them a meaning of their own. */
const RESERVED_METRIC_NAMES = new Set(['__proto__', 'constructor', 'prototype']);
/** Metrics scored from a confusion matrix (accuracy, f1, macro_f1, ...): fractions in [0, 1]. */
const FRACTION_METRICS = new Set<string>(METRIC_NAMES.map(metricName));

type ErrorClass = new (field: string, message: string) => LeaderboardError;

const show = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

function text(Refusal: ErrorClass, field: string, value: unknown, maxLength = MAX_NAME_LENGTH) {
  if (typeof value !== 'string' || value.length === 0) {
    throw new Refusal(field, `must be a non-empty string, got ${show(value)}`);
  }
  if (value.length > maxLength) {
    throw new Refusal(field, `must be at most ${maxLength} characters, got ${value.length}`);
  }
  return value;
}

function optionalText(Refusal: ErrorClass, field: string, value: unknown): string {
  if (typeof value !== 'string') throw new Refusal(field, `must be a string, got ${show(value)}`);
  return value;
}

function integer(
  Refusal: ErrorClass,
  field: string,
  value: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Refusal(field, `must be an integer in [${min}, ${max}], got ${show(value)}`);
  }
  return value;
}

function finite(Refusal: ErrorClass, field: string, value: unknown, min = -Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    const bound = min === -Infinity ? '' : ` >= ${min}`;
    throw new Refusal(field, `must be a finite number${bound}, got ${show(value)}`);
  }
  return value;
}

function timestamp(Refusal: ErrorClass, field: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    value > MAX_TIMESTAMP_MS
  ) {
    throw new Refusal(
      field,
      `must be milliseconds since 1970-01-01 UTC in [0, ${MAX_TIMESTAMP_MS}] (up to 9999-12-31), got ${show(value)}`,
    );
  }
  return value;
}

function jsonObject(Refusal: ErrorClass, field: string, value: unknown): string {
  const source = optionalText(Refusal, field, value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (error) {
    throw new Refusal(field, `must be JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Refusal(field, 'must be a JSON object');
  }
  const depth = nestingDepth(parsed);
  if (depth > MAX_JSON_DEPTH) {
    throw new Refusal(field, `nests ${depth} levels deep; at most ${MAX_JSON_DEPTH} are kept`);
  }
  return source;
}

/**
 * How deep a stored config may nest. A trial's config is a few levels deep; every reader
 * of it (tables, labels, the web view) walks it recursively, so a deeper one is refused at
 * the door rather than overflowing a stack later.
 */
const MAX_JSON_DEPTH = 64;

/** The depth of objects and arrays in a parsed JSON value, walked without recursion. */
function nestingDepth(value: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}

function record(Refusal: ErrorClass, field: string, value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new Refusal(field, `must be a map, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

function list<T>(Refusal: ErrorClass, field: string, value: T[] | null | undefined): T[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new Refusal(field, `must be a list, got ${show(value)}`);
  return value;
}

/** Refuses a map whose keys include bad metric names, listing every one of them. */
function checkMetricNames(Refusal: ErrorClass, field: string, names: readonly string[]): void {
  const refused = names.filter(
    (name) => !METRIC_NAME.test(name) || RESERVED_METRIC_NAMES.has(name),
  );
  if (refused.length > 0) {
    throw new Refusal(
      field,
      `refused metric names ${refused.map(show).join(', ')}: a name matches ${METRIC_NAME.source} and is not ${[...RESERVED_METRIC_NAMES].join(', ')}`,
    );
  }
}

/**
 * When predictions are sent, the confusion matrix is their tally (row = label, column =
 * predicted), so the figures scored from either agree.
 */
function checkMatrixMatchesPredictions(
  numClasses: number,
  counts: readonly number[],
  predictions: ReadonlyArray<{ label: number; predicted: number }>,
): void {
  const tally = new Array<number>(numClasses * numClasses).fill(0);
  for (const { label, predicted } of predictions) {
    tally[label * numClasses + predicted] = (tally[label * numClasses + predicted] as number) + 1;
  }
  const cell = tally.findIndex((count, index) => count !== counts[index]);
  if (cell === -1) return;
  const label = Math.floor(cell / numClasses);
  const predicted = cell % numClasses;
  throw new InvalidResultError(
    `result.confusion_matrix.counts[${cell}]`,
    `disagrees with result.predictions: ${tally[cell]} predictions have label ${label} and predicted ${predicted}, the matrix says ${counts[cell]}`,
  );
}

/** A reported result, checked and with absent lists and maps filled in (sequence is 0). */
export function validateResult(input: TrialResultInput): TrialResult {
  const E = InvalidResultError;
  if (input === null || typeof input !== 'object') {
    throw new E('result', `must be a message, got ${show(input)}`);
  }
  const namespace = text(E, 'result.namespace', input.namespace);
  const sweep = text(E, 'result.sweep', input.sweep);
  const trial = text(E, 'result.trial', input.trial);
  const attempt = integer(E, 'result.attempt', input.attempt, 0, MAX_ATTEMPT);

  const config = input.config;
  if (config === null || config === undefined || typeof config !== 'object') {
    throw new E('result.config', 'is required');
  }
  const checkedConfig = {
    configKey: text(E, 'result.config.config_key', config.configKey),
    method: text(E, 'result.config.method', config.method),
    maskType: optionalText(E, 'result.config.mask_type', config.maskType),
    maskRatio: finite(E, 'result.config.mask_ratio', config.maskRatio, 0),
    maskSize: integer(E, 'result.config.mask_size', config.maskSize, 0, 2 ** 32 - 1),
    augmentation: optionalText(E, 'result.config.augmentation', config.augmentation),
    seed: integer(E, 'result.config.seed', config.seed, 0, 2 ** 32 - 1),
    pretrainKey: optionalText(E, 'result.config.pretrain_key', config.pretrainKey),
    configJson: jsonObject(E, 'result.config.config_json', config.configJson),
    grids: list(E, 'result.config.grids', config.grids).map((grid, i) =>
      text(E, `result.config.grids[${i}]`, grid),
    ),
  };
  if (checkedConfig.maskRatio >= 1) {
    throw new E('result.config.mask_ratio', `must be below 1, got ${checkedConfig.maskRatio}`);
  }

  const matrix = input.confusionMatrix;
  if (matrix === null || matrix === undefined || typeof matrix !== 'object') {
    throw new E('result.confusion_matrix', 'is required');
  }
  const numClasses = integer(E, 'result.confusion_matrix.num_classes', matrix.numClasses, 2, 1000);
  const counts = list(E, 'result.confusion_matrix.counts', matrix.counts);
  if (counts.length !== numClasses * numClasses) {
    throw new E(
      'result.confusion_matrix.counts',
      `must have num_classes² = ${numClasses * numClasses} entries, got ${counts.length}`,
    );
  }
  counts.forEach((count, index) => {
    integer(E, `result.confusion_matrix.counts[${index}]`, count, 0, 2 ** 32 - 1);
  });

  const metricMap = (field: string, values: unknown): Record<string, number> => {
    const entries = Object.entries(record(E, field, values));
    checkMetricNames(
      E,
      field,
      entries.map(([name]) => name),
    );
    const checked: Record<string, number> = {};
    for (const [name, value] of entries) {
      const number = finite(E, `${field}.${name}`, value);
      if (FRACTION_METRICS.has(name) && !(number >= 0 && number <= 1)) {
        throw new E(`${field}.${name}`, `must be in [0, 1], got ${number}`);
      }
      checked[name] = number;
    }
    return checked;
  };
  const metrics = metricMap('result.metrics', input.metrics);
  const valMetrics = metricMap('result.val_metrics', input.valMetrics);

  const sampleIds = new Set<string>();
  const predictions = list(E, 'result.predictions', input.predictions).map((prediction, i) => {
    const field = `result.predictions[${i}]`;
    const sampleId = text(E, `${field}.sample_id`, prediction?.sampleId, 1000);
    if (sampleIds.has(sampleId)) {
      throw new E(`${field}.sample_id`, `repeats sample ${show(sampleId)}`);
    }
    sampleIds.add(sampleId);
    const probabilities = list(E, `${field}.probabilities`, prediction.probabilities);
    if (probabilities.length !== 0 && probabilities.length !== numClasses) {
      throw new E(
        `${field}.probabilities`,
        `must be empty or have num_classes = ${numClasses} entries, got ${probabilities.length}`,
      );
    }
    probabilities.forEach((p, k) => {
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
        throw new E(
          `${field}.probabilities[${k}]`,
          `must be a probability in [0, 1], got ${show(p)}`,
        );
      }
    });
    return {
      sampleId,
      label: integer(E, `${field}.label`, prediction.label, 0, numClasses - 1),
      predicted: integer(E, `${field}.predicted`, prediction.predicted, 0, numClasses - 1),
      probabilities,
    };
  });

  if (predictions.length > 0) checkMatrixMatchesPredictions(numClasses, counts, predictions);

  const artifacts = list(E, 'result.artifacts', input.artifacts).map((artifact, i) => ({
    name: text(E, `result.artifacts[${i}].name`, artifact?.name, 1000),
    uri: text(E, `result.artifacts[${i}].uri`, artifact.uri, 4000),
    mediaType: optionalText(E, `result.artifacts[${i}].media_type`, artifact.mediaType),
  }));

  return {
    namespace,
    sweep,
    trial,
    attempt,
    config: checkedConfig,
    confusionMatrix: { numClasses, counts },
    metrics,
    valMetrics,
    predictions,
    artifacts,
    finishedAtMs: timestamp(E, 'result.finished_at_ms', input.finishedAtMs),
    durationSeconds: finite(E, 'result.duration_seconds', input.durationSeconds, 0),
    sequence: 0,
  };
}

/** Checks every event of a batch before any is stored, so a bad batch stores nothing. */
export function validateMetricEvents(events: readonly MetricEvent[]): void {
  const E = InvalidMetricEventError;
  if (!Array.isArray(events)) throw new E('events', `must be a list, got ${show(events)}`);
  const stages = new Set<number>([
    Stage.STAGE_PRETRAIN,
    Stage.STAGE_FINETUNE,
    Stage.STAGE_EVALUATE,
  ]);
  const kinds = new Set<number>([MetricKind.METRIC_KIND_TRAIN, MetricKind.METRIC_KIND_VALIDATION]);
  events.forEach((event, i) => {
    const field = `events[${i}]`;
    if (event === null || typeof event !== 'object') {
      throw new E(field, `must be a message, got ${show(event)}`);
    }
    text(E, `${field}.namespace`, event.namespace);
    text(E, `${field}.sweep`, event.sweep);
    text(E, `${field}.trial`, event.trial);
    integer(E, `${field}.attempt`, event.attempt, 0, MAX_ATTEMPT);
    if (!stages.has(event.stage)) {
      throw new E(
        `${field}.stage`,
        `must be 1 (pretrain), 2 (finetune) or 3 (evaluate), got ${show(event.stage)}`,
      );
    }
    if (!kinds.has(event.kind)) {
      throw new E(`${field}.kind`, `must be 1 (train) or 2 (validation), got ${show(event.kind)}`);
    }
    integer(E, `${field}.step`, event.step);
    integer(E, `${field}.epoch`, event.epoch, 0, 2 ** 32 - 1);
    timestamp(E, `${field}.wall_time_ms`, event.wallTimeMs);
    const values = Object.entries(record(E, `${field}.values`, event.values));
    checkMetricNames(
      E,
      `${field}.values`,
      values.map(([name]) => name),
    );
    for (const [name, value] of values) {
      // NaN and infinities are kept: a diverged run's curve should show them.
      if (typeof value !== 'number') {
        throw new E(`${field}.values.${name}`, `must be a number, got ${show(value)}`);
      }
    }
  });
}

export function validateRegisterSweep(request: RegisterSweepRequest): RegisterSweepRequest {
  const E = InvalidRequestError;
  return {
    namespace: text(E, 'namespace', request.namespace),
    sweep: text(E, 'sweep', request.sweep),
    specJson: jsonObject(E, 'spec_json', request.specJson),
    trialCount: integer(E, 'trial_count', request.trialCount, 0, 2 ** 32 - 1),
  };
}

export function requireName(field: string, value: unknown): string {
  return text(InvalidRequestError, field, value);
}

export function requireInteger(field: string, value: unknown, min: number, max: number): number {
  return integer(InvalidRequestError, field, value, min, max);
}

/** A confidence level in (0, 1); 0 or absent means the default 0.95, as in the proto. */
export function requireConfidence(field: string, value: number | undefined): number {
  if (value === undefined || value === 0) return 0.95;
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw new InvalidRequestError(field, `must be in (0, 1), got ${show(value)}`);
  }
  return value;
}
