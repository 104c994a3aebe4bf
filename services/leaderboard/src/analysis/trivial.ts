/**
 * The trivial classifiers of a test set: always the majority class, and always the positive
 * class. They need no training, only the test labels, and every config must beat them: on a
 * test set with few positives the majority class has a high accuracy and an F1 of 0, and
 * always-positive has a recall of 1. Each is scored with the bootstrap over test images.
 */
import type { TrivialSummary } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  type HierarchicalInterval,
  hierarchicalBootstrapMetrics,
  type MetricName,
  type SeedPredictions,
} from '@masksweep/stats';
import {
  type ConfigPredictions,
  metricSummary,
  RESAMPLES,
  SCORED_METRICS,
} from './config-summary.js';

/** The class precision, recall and F1 score (as the trial-runner scores them). */
const POSITIVE_CLASS = 1;

/**
 * The trivial classifiers of the test set of `predictions` (a config with stored
 * predictions): one resampled image set per distinct test set of its seeds (one when the
 * seeds share it).
 */
export function trivialSummaries(
  predictions: ConfigPredictions,
  options: { confidence: number; resamples?: number },
): TrivialSummary[] {
  const testSets = distinctTestSets(predictions.groups);
  const first = testSets[0];
  if (!first) return [];
  const counts = new Array<number>(predictions.numClasses).fill(0);
  for (const group of testSets) {
    for (const label of group.labels) counts[label] = (counts[label] as number) + 1;
  }
  // The most frequent class; a tie goes to the lower class index.
  const majority = counts.indexOf(Math.max(...counts));
  const classifiers = [
    { name: 'majority', label: `Majority class (${majority})`, predictedClass: majority },
    {
      name: 'always_positive',
      label: `Always positive (${POSITIVE_CLASS})`,
      predictedClass: POSITIVE_CLASS,
    },
  ];
  const names = [...SCORED_METRICS.keys()];
  return classifiers.map(({ name, label, predictedClass }) => {
    const groups = testSets.map((group) => ({
      ...group,
      predictions: group.labels.map(() => predictedClass),
    }));
    const scored = hierarchicalBootstrapMetrics(
      groups,
      names.map((metric) => SCORED_METRICS.get(metric) as MetricName),
      {
        // Distinct test sets stand for the seeds' own draws of images.
        testSet: groups.length === 1 ? 'shared' : 'per-seed',
        numClasses: predictions.numClasses,
        resamples: options.resamples ?? RESAMPLES,
        confidence: options.confidence,
        rng: new Random(0).fork('trivial', predictions.testSet, name),
      },
    );
    const metrics = Object.fromEntries(
      names.map((metric) => {
        const interval = scored[SCORED_METRICS.get(metric) as MetricName] as HierarchicalInterval;
        return [metric, metricSummary([], interval)];
      }),
    );
    return {
      name,
      label,
      predictedClass,
      testSet: predictions.testSet,
      metrics,
      testImages: Math.min(...testSets.map((group) => group.labels.length)),
    };
  });
}

/** The seeds' test sets, each once (by sample ids and labels), numbered 0, 1, ... as seeds. */
function distinctTestSets(groups: readonly SeedPredictions[]): SeedPredictions[] {
  const seen = new Set<string>();
  const distinct: SeedPredictions[] = [];
  for (const group of groups) {
    const key = JSON.stringify([group.sampleIds, group.labels]);
    if (seen.has(key)) continue;
    seen.add(key);
    distinct.push({ ...group, seed: distinct.length });
  }
  return distinct;
}
