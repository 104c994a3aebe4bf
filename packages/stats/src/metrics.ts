/**
 * Classification metrics on plain numbers. The paper scores the positive (tumour) class
 * with its equations 1-3; MMPreTrain's SingleLabelMetric averages per-class scores
 * ('macro'). Both are given, as fractions in [0, 1], with 0 wherever a ratio is undefined.
 */
import { checkInteger, InvalidArgumentError } from './errors.js';

/** counts[trueClass][predictedClass]. */
export type ConfusionMatrix = number[][];

export function confusionMatrix(
  labels: readonly number[],
  predictions: readonly number[],
  numClasses: number,
): ConfusionMatrix {
  checkInteger('numClasses', numClasses, 1);
  checkSameLength(labels, predictions);
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  labels.forEach((label, index) => {
    const prediction = predictions[index] as number;
    checkClass('labels', index, label, numClasses);
    checkClass('predictions', index, prediction, numClasses);
    (matrix[label] as number[])[prediction] =
      ((matrix[label] as number[])[prediction] as number) + 1;
  });
  return matrix;
}

export interface ClassScores {
  /** TP_c / max(predicted_c, 1). */
  precision: number;
  /** TP_c / max(actual_c, 1). */
  recall: number;
  /** Harmonic mean of the two, 0 when both are 0. */
  f1: number;
  /** Samples whose true class is c. */
  support: number;
}

export interface ClassificationMetrics {
  /** Correct predictions over all samples. */
  accuracy: number;
  /** Positive class: TP / (TP + FP), the paper's equation 2. */
  precision: number;
  /** Positive class: TP / (TP + FN), the paper's equation 1. */
  recall: number;
  /** Positive class: harmonic mean of precision and recall, the paper's equation 3. */
  f1: number;
  /** Mean over classes of per-class precision (MMPreTrain average='macro'). */
  macroPrecision: number;
  macroRecall: number;
  /** Mean over classes of per-class F1 (not the F1 of macroPrecision and macroRecall). */
  macroF1: number;
  /** Number of samples scored. */
  support: number;
  perClass: ClassScores[];
}

export interface ClassificationMetricsOptions {
  /**
   * The class scored by precision, recall and f1 (tumour = 1).
   * @default 1
   */
  positiveClass?: number;
}

export function classificationMetrics(
  matrix: ConfusionMatrix,
  options: ClassificationMetricsOptions = {},
): ClassificationMetrics {
  const numClasses = checkMatrix(matrix);
  const positiveClass = checkPositiveClass(options.positiveClass, numClasses);
  const tallies = talliesOf(matrix);
  const perClass = [...Array(numClasses).keys()].map(
    (c): ClassScores => ({
      precision: classPrecision(tallies, c),
      recall: classRecall(tallies, c),
      f1: classF1(tallies, c),
      support: tallies.actual[c] as number,
    }),
  );
  const positive = perClass[positiveClass] as ClassScores;
  const mean = (pick: (scores: ClassScores) => number): number =>
    perClass.reduce((sum, scores) => sum + pick(scores), 0) / numClasses;
  return {
    accuracy: accuracyOf(tallies),
    precision: positive.precision,
    recall: positive.recall,
    f1: positive.f1,
    macroPrecision: mean((scores) => scores.precision),
    macroRecall: mean((scores) => scores.recall),
    macroF1: mean((scores) => scores.f1),
    support: sum(tallies.actual),
    perClass,
  };
}

/** Every metric metricOf and the bootstraps can score from labels and predictions. */
export const METRIC_NAMES = [
  'accuracy',
  'precision',
  'recall',
  'f1',
  'macroPrecision',
  'macroRecall',
  'macroF1',
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

export interface MetricOfOptions extends ClassificationMetricsOptions {
  /** @default 2 */
  numClasses?: number;
}

/** One metric as a function of (labels, predictions), e.g. for bootstrap intervals. */
export function metricOf(
  name: MetricName,
  options: MetricOfOptions = {},
): (labels: readonly number[], predictions: readonly number[]) => number {
  const numClasses = options.numClasses ?? 2;
  return (labels, predictions) =>
    classificationMetrics(confusionMatrix(labels, predictions, numClasses), options)[name];
}

/**
 * Per class c: correct (TP_c), actual (samples of true class c) and predicted (samples
 * predicted c). Every metric here is a function of these three counts, which is what lets
 * a bootstrap score a resample from counts instead of from arrays of samples.
 */
export interface ClassTallies {
  correct: ArrayLike<number>;
  actual: ArrayLike<number>;
  predicted: ArrayLike<number>;
}

/**
 * The metric `name` as a function of class tallies: the same formulas as
 * classificationMetrics, without building the per-class objects (a bootstrap calls it
 * hundreds of thousands of times).
 */
export function tallyMetric(
  name: MetricName,
  options: MetricOfOptions = {},
): (tallies: ClassTallies) => number {
  const numClasses = checkInteger('numClasses', options.numClasses ?? 2, 1);
  const positiveClass = checkPositiveClass(options.positiveClass, numClasses);
  const macro = (score: (tallies: ClassTallies, c: number) => number) => (t: ClassTallies) => {
    let total = 0;
    for (let c = 0; c < numClasses; c++) total += score(t, c);
    return total / numClasses;
  };
  switch (name) {
    case 'accuracy':
      return accuracyOf;
    case 'precision':
      return (t) => classPrecision(t, positiveClass);
    case 'recall':
      return (t) => classRecall(t, positiveClass);
    case 'f1':
      return (t) => classF1(t, positiveClass);
    case 'macroPrecision':
      return macro(classPrecision);
    case 'macroRecall':
      return macro(classRecall);
    case 'macroF1':
      return macro(classF1);
    default:
      throw new InvalidArgumentError('metric', `is not a metric name: ${JSON.stringify(name)}`);
  }
}

function talliesOf(matrix: ConfusionMatrix): {
  correct: number[];
  actual: number[];
  predicted: number[];
} {
  const numClasses = matrix.length;
  const correct = new Array<number>(numClasses).fill(0);
  const actual = new Array<number>(numClasses).fill(0);
  const predicted = new Array<number>(numClasses).fill(0);
  matrix.forEach((row, trueClass) => {
    row.forEach((count, predictedClass) => {
      actual[trueClass] = (actual[trueClass] as number) + count;
      predicted[predictedClass] = (predicted[predictedClass] as number) + count;
      if (trueClass === predictedClass) correct[trueClass] = count;
    });
  });
  return { correct, actual, predicted };
}

function accuracyOf(tallies: ClassTallies): number {
  const total = sum(tallies.actual);
  return total === 0 ? 0 : sum(tallies.correct) / total;
}

// max(·, 1) as MMPreTrain: a class never predicted (or never present) scores 0.
function classPrecision(tallies: ClassTallies, c: number): number {
  return (tallies.correct[c] as number) / Math.max(tallies.predicted[c] as number, 1);
}

function classRecall(tallies: ClassTallies, c: number): number {
  return (tallies.correct[c] as number) / Math.max(tallies.actual[c] as number, 1);
}

function classF1(tallies: ClassTallies, c: number): number {
  return harmonicMean(classPrecision(tallies, c), classRecall(tallies, c));
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i] as number;
  return total;
}

function harmonicMean(precision: number, recall: number): number {
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

function checkPositiveClass(positiveClass: number | undefined, numClasses: number): number {
  const value = positiveClass ?? 1;
  if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
    throw new InvalidArgumentError(
      'positiveClass',
      `must be a class index in [0, ${numClasses - 1}], got ${value}`,
    );
  }
  return value;
}

function checkSameLength(labels: readonly number[], predictions: readonly number[]): void {
  if (labels.length !== predictions.length) {
    throw new InvalidArgumentError(
      'predictions',
      `has ${predictions.length} entries for ${labels.length} labels`,
    );
  }
}

function checkClass(field: string, index: number, value: number, numClasses: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
    throw new InvalidArgumentError(
      `${field}[${index}]`,
      `must be a class index in [0, ${numClasses - 1}], got ${value}`,
    );
  }
}

function checkMatrix(matrix: ConfusionMatrix): number {
  const numClasses = matrix.length;
  if (numClasses === 0) throw new InvalidArgumentError('matrix', 'needs at least one class');
  matrix.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== numClasses) {
      throw new InvalidArgumentError(`matrix[${i}]`, `must have ${numClasses} counts`);
    }
    row.forEach((value, j) => {
      if (!Number.isInteger(value) || value < 0) {
        throw new InvalidArgumentError(
          `matrix[${i}][${j}]`,
          `must be a count (integer >= 0), got ${value}`,
        );
      }
    });
  });
  return numClasses;
}
