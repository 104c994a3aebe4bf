/**
 * What each page shows, read from the store: the ranking (sorted once per summary), the
 * latest results, thinned curves and the live-update cursors. The pages render these.
 */
import type { Statistics } from '../analysis/statistics.js';
import { rankingOrder } from '../analysis/table-rows.js';
import { NotFoundError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { ConfigSummary, MetricPoint, SweepSummary, TrialResult } from '../store/types.js';
import { requireConfidence } from '../store/validate.js';
import {
  type ComparePageModel,
  CURVE_CHARTS,
  objectiveSortKey,
  RANKED_METRICS,
  type SweepPageModel,
} from './pages.js';
import { compareRequest, integerParam, oneOf, type Params } from './params.js';

/** Rows of the latest-results table, on the page and kept by live updates. */
export const RECENT_RESULTS = 20;
const CURVE_TRIALS = 8;
/** Points per curve sent with a page; longer curves are thinned evenly. */
const POINTS_PER_SERIES = 300;

export type ViewModels = ReturnType<typeof createViewModels>;

export function createViewModels(store: Store, statistics: Statistics) {
  const sortedConfigs = new WeakMap<SweepSummary, Map<string, ConfigSummary[]>>();

  /** The summary's configs in ranking order, cached per summary (it is replaced on change). */
  const ranked = (summary: SweepSummary, sort: string, order: 'asc' | 'desc') => {
    let bySort = sortedConfigs.get(summary);
    if (!bySort) {
      bySort = new Map();
      sortedConfigs.set(summary, bySort);
    }
    const key = `${sort}:${order}`;
    let configs = bySort.get(key);
    if (!configs) {
      configs = [...summary.configs].sort(rankingOrder(sort, order));
      bySort.set(key, configs);
    }
    return configs;
  };

  const curvePoints = (namespace: string, trials: readonly string[]): MetricPoint[] =>
    trials.flatMap((trial) => thinCurves(store.metricCurve({ namespace, trial, limit: 20_000 })));

  return {
    async sweepPage(namespace: string, sweep: string, params: Params): Promise<SweepPageModel> {
      const info = store.requireSweep(namespace, sweep);
      // Cursors first: anything stored while the page renders comes again live.
      const resultCursor = store.latestSequence(info.namespace, info.sweep);
      const pointCursor = store.lastPointId();
      // From the statistics pool, or its cache while the sweep is unchanged (the bootstraps
      // of a cold summary take a second of CPU; none of it on the event loop).
      const summary = await statistics.sweepSummary({
        namespace: info.namespace,
        sweep: info.sweep,
      });
      // Validation orders by default; test columns may be sorted to look, not to choose.
      const objective = objectiveSortKey(summary);
      const sort = oneOf(params, 'sort', [objective, ...RANKED_METRICS, 'n'], objective);
      const order = oneOf(
        params,
        'order',
        ['desc', 'asc'] as const,
        sort === objective && summary.objectiveMinimizes ? 'asc' : 'desc',
      );
      const pageSize = integerParam(params, 'pageSize', 50, 1, 500);
      const configs = ranked(summary, sort, order);
      const pageCount = Math.max(1, Math.ceil(configs.length / pageSize));
      const page = integerParam(params, 'page', 1, 1, Number.MAX_SAFE_INTEGER);
      const recent = store.listResults({
        namespace: info.namespace,
        sweep: info.sweep,
        sortBy: 'finished_at',
        pageSize: RECENT_RESULTS,
      }).results;
      const curveTrials = store.recentCurveTrials({
        namespace: info.namespace,
        sweep: info.sweep,
        limit: CURVE_TRIALS,
      });
      return {
        sweep: info,
        summary,
        ranking: {
          rows: configs.slice((page - 1) * pageSize, page * pageSize),
          sort,
          order,
          page,
          pageSize,
          pageCount,
        },
        recent,
        recentLimit: RECENT_RESULTS,
        points: curvePoints(info.namespace, curveTrials),
        maxCurveTrials: CURVE_TRIALS,
        resultCursor,
        pointCursor,
        grid: params.get('grid') || undefined,
      };
    },

    trialPage(namespace: string, trial: string): { result: TrialResult; points: MetricPoint[] } {
      const result = store.getResult(namespace, trial);
      if (!result) {
        throw new NotFoundError(
          'trial',
          `no result of trial ${JSON.stringify(trial)} in namespace ${JSON.stringify(namespace)}`,
        );
      }
      return { result, points: curvePoints(result.namespace, [result.trial]) };
    },

    async comparePage(params: Params): Promise<ComparePageModel> {
      const request = compareRequest(params);
      // Both on the pool, at once (the summary at 0.95 is usually cached by the sweep page).
      const [response, summary] = await Promise.all([
        statistics.compareConfigs(request),
        statistics.sweepSummary({ namespace: request.namespace, sweep: request.sweep }),
      ]);
      const find = (key: string) => summary.configs.find((c) => c.config.configKey === key);
      return {
        namespace: request.namespace,
        sweep: request.sweep,
        metric: request.metric,
        keyA: request.configKeyA,
        keyB: request.configKeyB,
        a: find(request.configKeyA),
        b: find(request.configKeyB),
        response,
        resamples: request.resamples,
        seed: request.seed,
        confidence: requireConfidence('confidence', request.confidence),
      };
    },
  };
}

/** Each (trial, attempt, stage, kind, name) curve cut to about POINTS_PER_SERIES points. */
function thinCurves(points: readonly MetricPoint[]): MetricPoint[] {
  const charted = points.filter((p) =>
    CURVE_CHARTS.some(
      (c) => c.stage === p.stage && c.kind === p.kind && (!c.names || c.names.includes(p.name)),
    ),
  );
  const bySeries = new Map<string, MetricPoint[]>();
  for (const point of charted) {
    const key = `${point.trial}\0${point.attempt}\0${point.stage}\0${point.kind}\0${point.name}`;
    const series = bySeries.get(key);
    if (series) series.push(point);
    else bySeries.set(key, [point]);
  }
  return [...bySeries.values()].flatMap((series) => {
    const stride = Math.ceil(series.length / POINTS_PER_SERIES);
    return series.filter((_, i) => i % stride === 0 || i === series.length - 1);
  });
}
