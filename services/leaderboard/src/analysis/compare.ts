/**
 * Two configs of a sweep compared on their predictions paired by (seed, sample id): the
 * paired-bootstrap interval of metric(A) − metric(B) and McNemar's exact test. A query over
 * the store.
 */
import type { CompareConfigsResponse } from '@masksweep/proto';
import { Random } from '@masksweep/random';
import {
  type MetricName,
  mcnemarExact,
  metricOf,
  pairedBootstrapDifference,
} from '@masksweep/stats';
import { InvalidRequestError, NotFoundError } from '../errors.js';
import { requireSweep, type Statements } from '../store/statements.js';
import type { CompareConfigsInput } from '../store/types.js';
import { requireConfidence, requireInteger, requireName } from '../store/validate.js';

/** Stats' metric names, by the names the proto and clients use. */
const COMPARABLE_METRICS: Record<string, MetricName> = {
  accuracy: 'accuracy',
  precision: 'precision',
  recall: 'recall',
  f1: 'f1',
  macro_precision: 'macroPrecision',
  macro_recall: 'macroRecall',
  macro_f1: 'macroF1',
  macroPrecision: 'macroPrecision',
  macroRecall: 'macroRecall',
  macroF1: 'macroF1',
};

export function compareConfigs(
  statements: Statements,
  request: CompareConfigsInput,
): CompareConfigsResponse {
  const namespace = requireName('namespace', request.namespace);
  const sweep = requireName('sweep', request.sweep);
  const keyA = requireName('config_key_a', request.configKeyA);
  const keyB = requireName('config_key_b', request.configKeyB);
  const metricKey = request.metric || 'f1';
  if (!Object.hasOwn(COMPARABLE_METRICS, metricKey)) {
    throw new InvalidRequestError(
      'metric',
      `must be one of ${Object.keys(COMPARABLE_METRICS).join(', ')}, got ${JSON.stringify(metricKey)}`,
    );
  }
  const metricName = COMPARABLE_METRICS[metricKey] as MetricName;
  const resamples = requireInteger('resamples', request.resamples || 2000, 1, 100_000);
  const confidence = requireConfidence('confidence', request.confidence);
  const seed = requireInteger('seed', request.seed ?? 0, 0, 2 ** 32 - 1);
  requireSweep(statements, namespace, sweep);

  const a = configPredictions(statements, namespace, sweep, keyA, 'config_key_a');
  const b = configPredictions(statements, namespace, sweep, keyB, 'config_key_b');
  if (a.numClasses !== b.numClasses) {
    throw new InvalidRequestError(
      'config_key_b',
      `config ${keyB} has ${b.numClasses} classes, config ${keyA} has ${a.numClasses}`,
    );
  }
  const labels: number[] = [];
  const predictionsA: number[] = [];
  const predictionsB: number[] = [];
  for (const [pairKey, fromA] of a.bySeedAndSample) {
    const fromB = b.bySeedAndSample.get(pairKey);
    if (fromB === undefined) continue;
    if (fromA.label !== fromB.label) {
      throw new InvalidRequestError(
        'config_key_b',
        `sample ${JSON.stringify(fromA.sampleId)} (seed ${fromA.seed}) has label ${fromA.label} in config ${keyA} and ${fromB.label} in config ${keyB}`,
      );
    }
    labels.push(fromA.label);
    predictionsA.push(fromA.predicted);
    predictionsB.push(fromB.predicted);
  }
  if (labels.length === 0) {
    throw new InvalidRequestError(
      'config_key_b',
      `configs ${keyA} and ${keyB} have no predicted sample (seed, sample id) in common`,
    );
  }
  const interval = pairedBootstrapDifference(
    labels,
    predictionsA,
    predictionsB,
    metricOf(metricName, { numClasses: a.numClasses }),
    { resamples, confidence, rng: new Random(seed) },
  );
  const mcnemar = mcnemarExact(labels, predictionsA, predictionsB);
  return {
    pairedSamples: labels.length,
    difference: interval.estimate,
    ciLow: interval.low,
    ciHigh: interval.high,
    onlyACorrect: mcnemar.b,
    onlyBCorrect: mcnemar.c,
    mcnemarPValue: mcnemar.pValue,
  };
}

function configPredictions(
  statements: Statements,
  namespace: string,
  sweep: string,
  configKey: string,
  field: string,
) {
  const rows = statements.configPredictions.all(namespace, sweep, configKey);
  if (rows.length === 0 && !statements.configExists.get(namespace, sweep, configKey)) {
    throw new NotFoundError(
      field,
      `no results of config ${JSON.stringify(configKey)} in sweep ${JSON.stringify(sweep)}`,
    );
  }
  // Each (seed, sample) once: a trial name is unique per (config, seed), so a second
  // trial with the same seed would be an inconsistent report; the one stored last wins.
  const bySeedAndSample = new Map<
    string,
    { seed: number; sampleId: string; label: number; predicted: number }
  >();
  let numClasses = rows[0]?.num_classes ?? 2;
  for (const row of rows) {
    numClasses = row.num_classes;
    bySeedAndSample.set(`${row.seed}\0${row.sample_id}`, {
      seed: row.seed,
      sampleId: row.sample_id,
      label: row.label,
      predicted: row.predicted,
    });
  }
  return { bySeedAndSample, numClasses };
}
