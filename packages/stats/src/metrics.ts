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
  const positiveClass = options.positiveClass ?? 1;
  if (!Number.isInteger(positiveClass) || positiveClass < 0 || positiveClass >= numClasses) {
    throw new InvalidArgumentError(
      'positiveClass',
      `must be a class index in [0, ${numClasses - 1}], got ${positiveClass}`,
    );
  }
  const count = (trueClass: number, predicted: number): number =>
    (matrix[trueClass] as number[])[predicted] as number;
  const classes = [...Array(numClasses).keys()];
  let total = 0;
  let correct = 0;
  for (const trueClass of classes) {
    correct += count(trueClass, trueClass);
    for (const predicted of classes) total += count(trueClass, predicted);
  }
  const perClass = classes.map((c): ClassScores => {
    const truePositives = count(c, c);
    const predicted = classes.reduce((sum, trueClass) => sum + count(trueClass, c), 0);
    const support = classes.reduce((sum, predictedClass) => sum + count(c, predictedClass), 0);
    // max(·, 1) as MMPreTrain: a class never predicted (or never present) scores 0.
    const precision = truePositives / Math.max(predicted, 1);
    const recall = truePositives / Math.max(support, 1);
    return { precision, recall, f1: harmonicMean(precision, recall), support };
  });
  const positive = perClass[positiveClass] as ClassScores;
  const mean = (pick: (scores: ClassScores) => number): number =>
    perClass.reduce((sum, scores) => sum + pick(scores), 0) / numClasses;
  return {
    accuracy: total === 0 ? 0 : correct / total,
    precision: positive.precision,
    recall: positive.recall,
    f1: positive.f1,
    macroPrecision: mean((scores) => scores.precision),
    macroRecall: mean((scores) => scores.recall),
    macroF1: mean((scores) => scores.f1),
    support: total,
    perClass,
  };
}

export type MetricName =
  | 'accuracy'
  | 'precision'
  | 'recall'
  | 'f1'
  | 'macroPrecision'
  | 'macroRecall'
  | 'macroF1';

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

function harmonicMean(precision: number, recall: number): number {
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
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
