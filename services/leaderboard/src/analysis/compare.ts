/**
 * Two configs of a sweep compared on their predictions, on the seeds both have and the test
 * images both predicted: the paired two-stage bootstrap of metric(A) − metric(B) with its
 * p-value and detectable difference (./paired.ts), and McNemar's exact test on the pooled
 * (seed, sample) pairs as a second figure. The store is read here (readComparison); the
 * statistics (computeComparison) run where the caller puts them: the servers use a pool of
 * worker threads (../statistics/pool.ts).
 */
import { metricName } from '@masksweep/api/contracts';
import type { CompareConfigsResponse } from '@masksweep/proto';
import type { SeedPredictions } from '@masksweep/stats';
import { InvalidRequestError, NotFoundError } from '../errors.js';
import { requireSweep, type Statements } from '../store/statements.js';
import type { CompareConfigsInput } from '../store/types.js';
import { requireConfidence, requireInteger, requireName } from '../store/validate.js';
import { type ConfigPredictions, SCORED_METRICS } from './config-summary.js';
import { alignPair, type ComparisonTask, computeComparison } from './paired.js';

/** A metric as the request names it (`macro_f1` or `macroF1`) by its wire name, if scored. */
function comparedMetric(name: string): string | undefined {
  if (SCORED_METRICS.has(name)) return name;
  const wire = metricName(name);
  return SCORED_METRICS.get(wire) === name ? wire : undefined;
}

/**
 * Resamples one comparison may ask for (gRPC and the web view alike; gRPC took 100,000 until
 * issue 15). At 10,000 the Monte Carlo error of a 95 % percentile bound is under 1 % of the
 * interval's width (normal approximation: 0.027 σ of 3.92 σ); more buys nothing a reader
 * sees and costs about a second per 2,000 paired samples (docs/leaderboard.md#limits).
 */
export const MAX_COMPARE_RESAMPLES = 10_000;
/** Resamples when the request asks for none. */
export const DEFAULT_COMPARE_RESAMPLES = 2000;

/** A comparison computed in place (the library's synchronous call; the servers use a pool). */
export function compareConfigs(
  statements: Statements,
  request: CompareConfigsInput,
): CompareConfigsResponse {
  return computeComparison(readComparison(statements, request));
}

/** The request checked and both configs' predictions read and aligned: the statistics' input. */
export function readComparison(
  statements: Statements,
  request: CompareConfigsInput,
): ComparisonTask {
  const checked = checkCompareRequest(request);
  const { namespace, sweep } = checked;
  requireSweep(statements, namespace, sweep);
  const a = configPredictions(statements, namespace, sweep, checked.configKeyA, 'config_key_a');
  const b = configPredictions(statements, namespace, sweep, checked.configKeyB, 'config_key_b');
  const pairing = alignPair(a, b);
  if (!pairing.ok) throw new InvalidRequestError('config_key_b', pairing.reason);
  return {
    pair: pairing.pair,
    metric: checked.metric,
    numClasses: a.numClasses,
    confidence: checked.confidence,
    resamples: checked.resamples,
    seed: checked.seed,
  };
}

/** A CompareConfigs request with every field checked and defaulted (also a cache key). */
export function checkCompareRequest(request: CompareConfigsInput) {
  const metric = comparedMetric(request.metric || 'f1');
  if (metric === undefined) {
    throw new InvalidRequestError(
      'metric',
      `must be one of ${[...SCORED_METRICS.keys()].join(', ')}, got ${JSON.stringify(request.metric)}`,
    );
  }
  return {
    namespace: requireName('namespace', request.namespace),
    sweep: requireName('sweep', request.sweep),
    configKeyA: requireName('config_key_a', request.configKeyA),
    configKeyB: requireName('config_key_b', request.configKeyB),
    metric,
    resamples: requireInteger(
      'resamples',
      request.resamples || DEFAULT_COMPARE_RESAMPLES,
      2,
      MAX_COMPARE_RESAMPLES,
    ),
    confidence: requireConfidence('confidence', request.confidence),
    seed: requireInteger('seed', request.seed ?? 0, 0, 2 ** 32 - 1),
  };
}

/** A config's stored test predictions by seed (seeds without predictions left out). */
function configPredictions(
  statements: Statements,
  namespace: string,
  sweep: string,
  configKey: string,
  field: string,
): ConfigPredictions {
  const rows = statements.configPredictions.all(namespace, sweep, configKey);
  if (rows.length === 0 && !statements.configExists.get(namespace, sweep, configKey)) {
    throw new NotFoundError(
      field,
      `no results of config ${JSON.stringify(configKey)} in sweep ${JSON.stringify(sweep)}`,
    );
  }
  // Rows come by seed and sample id. A trial name is unique per (config, seed), so a second
  // trial with the same seed would be an inconsistent report: its rows are left out.
  const groups: SeedPredictions[] = [];
  let numClasses = 2;
  let current: (SeedPredictions & { sampleIds: string[] }) | undefined;
  const seen = new Set<string>();
  for (const row of rows) {
    numClasses = row.num_classes;
    if (current?.seed !== row.seed) {
      current = { seed: row.seed, sampleIds: [], labels: [], predictions: [] };
      groups.push(current);
      seen.clear();
    }
    if (seen.has(row.sample_id)) continue;
    seen.add(row.sample_id);
    current.sampleIds.push(row.sample_id);
    (current.labels as number[]).push(row.label);
    (current.predictions as number[]).push(row.predicted);
  }
  return {
    configKey,
    numClasses,
    groups,
    design: undefined,
    testSet: '',
  };
}
