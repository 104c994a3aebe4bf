/**
 * The web view's pages, rendered on the server. Every value from the store goes through
 * `html` (escaped) and every link through `segment`/`query` (percent-encoded).
 */
import {
  type CompareConfigsResponse,
  MetricKind,
  type MetricSummary,
  Stage,
  type TrivialSummary,
} from '@masksweep/proto';
import { rankingValue } from '../analysis/table-rows.js';
import {
  augmentationLabel,
  configLabel,
  maskSettingLabel,
  maskTypeLabel,
  methodLabel,
} from '../labels.js';
import type {
  ConfigSummary,
  MetricPoint,
  SweepInfo,
  SweepSummary,
  TrialResult,
} from '../store/types.js';
import type { ChartSpec, WirePoint } from './client/contract.js';
import { duration, interval, percent, points, pValue, score, timestamp } from './format.js';
import { html, query, type SafeHtml, segment } from './html.js';
import { layout, sweepLink, trialLink } from './layout.js';
import { gridSections, metricLabel } from './sweep-tables.js';

/** The test metrics of the ranked table, in column order (after the validation objective). */
export const RANKED_METRICS = ['f1', 'recall', 'precision', 'accuracy'] as const;

/** The ranking's sort key of the validation objective: `val_f1`. */
export const objectiveSortKey = (summary: Pick<SweepSummary, 'objective'>): string =>
  `val_${summary.objective}`;

/** The curve charts of sweep and trial pages. */
export const CURVE_CHARTS: Array<ChartSpec & { stage: Stage; kind: MetricKind }> = [
  {
    id: 'chart-pretrain-loss',
    title: 'Pre-training loss',
    stage: Stage.STAGE_PRETRAIN,
    kind: MetricKind.METRIC_KIND_TRAIN,
    names: ['loss'],
  },
  {
    id: 'chart-finetune-loss',
    title: 'Fine-tuning loss',
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_TRAIN,
    names: ['loss'],
  },
  {
    id: 'chart-validation',
    title: 'Validation',
    stage: Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_VALIDATION,
  },
];

/** A point as the client script takes it. */
export function wirePoint(point: MetricPoint): WirePoint {
  return [
    point.id,
    point.trial,
    point.attempt,
    point.stage,
    point.kind,
    point.name,
    point.step,
    Number.isFinite(point.value) ? point.value : null,
  ];
}

export function sweepsPage(sweeps: readonly SweepInfo[], nonce: string): SafeHtml {
  const rows = sweeps.map(
    (s) => html`<tr>
      <td>${s.namespace}</td>
      <td><a href="${sweepLink(s.namespace, s.sweep)}">${s.sweep}</a></td>
      <td class="num">${s.resultCount}</td>
      <td class="num">${s.trialCount}</td>
      <td>${timestamp(s.createdAtMs)}</td>
    </tr>`,
  );
  return layout(
    'Sweeps',
    nonce,
    html`<h1>Sweeps</h1>
    ${
      sweeps.length === 0
        ? html`<p>No sweep is registered yet.</p>`
        : html`<table>
      <thead><tr><th>Namespace</th><th>Sweep</th><th class="num">Results</th><th class="num">Trials</th><th>Registered</th></tr></thead>
      <tbody>${rows}</tbody>
    </table>`
    }`,
  );
}

function metricCell(summary: MetricSummary | undefined): SafeHtml {
  return html`<td class="num">${score(summary?.mean)} <span class="ci">${interval(summary)}</span></td>`;
}

/** The value a ranked row sorts by, as its data attribute (empty when missing). */
function sortAttribute(config: ConfigSummary, key: string): string {
  return String(rankingValue(config, key) ?? '');
}

/** One config of the ranked table; also sent as is by the live updates. */
export function rankedRow(
  config: ConfigSummary,
  rank: number,
  namespace: string,
  objective: string,
): SafeHtml {
  const { configKey } = config.config;
  const keys = [`val_${objective}`, ...RANKED_METRICS, 'n'];
  const data = keys.map((key) => html` data-${key}="${sortAttribute(config, key)}"`);
  return html`<tr data-config-key="${configKey}"${data}>
<td class="rank num">${rank}</td>
<td>${configLabel(config.config)}<br><span class="key">${configKey}</span></td>
<td class="num">${score(config.valMetrics[objective]?.mean)}</td>
${RANKED_METRICS.map((metric) => metricCell(config.metrics[metric]))}
<td class="num">${config.seeds.length}</td>
<td>${config.seeds.map(
    (seed, i) =>
      html`<a href="${trialLink(namespace, config.trials[i] as string)}" title="${config.trials[i]}">${seed}</a> `,
  )}</td>
<td><input type="radio" name="a" value="${configKey}" aria-label="compare as A"> <input type="radio" name="b" value="${configKey}" aria-label="compare as B"></td>
</tr>`;
}

/**
 * The trivial classifiers under the ranking: not ranked (they have no validation figures),
 * their test metrics beside the configs'. Also sent as is by the live updates.
 */
export function referenceRows(trivial: readonly TrivialSummary[]): SafeHtml {
  return html`${trivial.map(
    (t) => html`<tr class="reference trivial" data-trivial="${t.name}">
<td class="rank num"></td>
<td>${t.label}<br><span class="key">trivial: from the test labels (${t.testImages} images)</span></td>
<td class="num">—</td>
${RANKED_METRICS.map((metric) => metricCell(t.metrics[metric]))}
<td class="num"></td><td></td><td></td>
</tr>`,
  )}`;
}

/** One result of the "latest results" table; also sent as is by the live updates. */
export function recentResultRow(result: TrialResult): SafeHtml {
  return html`<tr data-trial="${result.trial}">
<td><a href="${trialLink(result.namespace, result.trial)}">${result.trial}</a></td>
<td>${configLabel(result.config)}</td>
<td class="num">${result.config.seed}</td>
<td class="num">${score(result.valMetrics.f1)}</td>
<td class="num">${score(result.metrics.f1)}</td>
<td class="num">${result.attempt}</td>
<td>${timestamp(result.finishedAtMs)}</td>
</tr>`;
}

export interface RankingView {
  rows: readonly ConfigSummary[];
  sort: string;
  order: 'asc' | 'desc';
  page: number;
  pageSize: number;
  pageCount: number;
}

export interface SweepPageModel {
  sweep: SweepInfo;
  summary: SweepSummary;
  ranking: RankingView;
  recent: readonly TrialResult[];
  recentLimit: number;
  points: readonly MetricPoint[];
  maxCurveTrials: number;
  /** Cursors of what the page shows; the live updates start after them. */
  resultCursor: number;
  pointCursor: number;
  /** The grid whose tables are shown, when the sweep has too many rows for all. */
  grid: string | undefined;
}

function rankingHeader(model: SweepPageModel, key: string, label: string): SafeHtml {
  const { ranking, sweep } = model;
  const active = ranking.sort === key;
  const order = active && ranking.order === 'desc' ? 'asc' : 'desc';
  const href = `${sweepLink(sweep.namespace, sweep.sweep)}${query({ sort: key, order, pageSize: ranking.pageSize })}`;
  return html`<th class="num"><a href="${href}">${label}${active ? (ranking.order === 'desc' ? ' ▼' : ' ▲') : ''}</a></th>`;
}

function pagination(model: SweepPageModel): SafeHtml {
  const { ranking, sweep } = model;
  const link = (page: number) =>
    `${sweepLink(sweep.namespace, sweep.sweep)}${query({ sort: ranking.sort, order: ranking.order, page, pageSize: ranking.pageSize })}`;
  return html`<p class="pagination">
${ranking.page > 1 ? html`<a rel="prev" href="${link(ranking.page - 1)}">« Previous</a>` : ''}
Page ${ranking.page} of ${ranking.pageCount}
${ranking.page < ranking.pageCount ? html`<a rel="next" href="${link(ranking.page + 1)}">Next »</a>` : ''}
</p>`;
}

function chartFigures(): SafeHtml {
  return html`<div class="charts">${CURVE_CHARTS.map(
    (chart) =>
      html`<figure id="${chart.id}" class="empty"><figcaption>${chart.title}</figcaption><svg viewBox="0 0 480 220" width="480" height="220" role="img" aria-label="${chart.title}"></svg><ul class="legend"></ul></figure>`,
  )}</div>`;
}

export function sweepPage(model: SweepPageModel, nonce: string): SafeHtml {
  const { sweep, summary, ranking } = model;
  const { namespace } = sweep;
  const offset = (ranking.page - 1) * ranking.pageSize;
  const body = html`<h1>${sweep.sweep}</h1>
<p>Namespace ${namespace} · <span id="result-count">${summary.resultCount}</span> results of ${sweep.trialCount} trials in ${summary.configs.length} configs · <span id="live">connecting</span></p>

<h2>Ranking</h2>
<p class="muted">Configs ordered by their mean validation ${metricLabel(summary.objective)} (the split every choice reads; click a column to order by another). Test metrics are reported only: mean over seeds [${percent(summary.confidence)} % interval from the two-stage bootstrap over seeds and test images]; n is the number of seeds. The trivial classifiers below the configs are scored on the test labels and not ranked. Pick A and B to compare two configs.</p>
<form method="get" action="/compare">
<input type="hidden" name="ns" value="${namespace}">
<input type="hidden" name="sweep" value="${sweep.sweep}">
<table id="ranking">
<thead><tr><th class="num">#</th><th>Config</th>${rankingHeader(model, objectiveSortKey(summary), `val ${metricLabel(summary.objective)}`)}${RANKED_METRICS.map((m) => rankingHeader(model, m, `test ${metricLabel(m)}`))}${rankingHeader(model, 'n', 'n')}<th>Seeds</th><th>A B</th></tr></thead>
<tbody id="ranking-body" data-sort="${ranking.sort}" data-order="${ranking.order}" data-page-size="${ranking.pageSize}" data-rank-offset="${offset}">
${ranking.rows.map((config, i) => rankedRow(config, offset + i + 1, namespace, summary.objective))}
</tbody>
<tbody id="ranking-reference">${referenceRows(summary.trivial)}</tbody>
</table>
${ranking.rows.length === 0 ? html`<p id="ranking-empty">No results yet.</p>` : ''}
<button type="submit">Compare A with B</button>
</form>
${pagination(model)}

<h2>Curves</h2>
<p class="muted">The ${model.maxCurveTrials} trials that reported metrics most recently; updated live.</p>
${chartFigures()}

<h2>Latest results</h2>
<p class="muted">val: the validation split at the end of fine-tuning, which choices read; test: reported only.</p>
<table id="recent">
<thead><tr><th>Trial</th><th>Config</th><th class="num">Seed</th><th class="num">val F1</th><th class="num">test F1</th><th class="num">Attempt</th><th>Finished</th></tr></thead>
<tbody id="recent-body">${model.recent.map(recentResultRow)}</tbody>
</table>

<h2 id="tables">Tables by grid</h2>
<p class="muted">Each table holds the configs of one grid, one row per config. Test columns: mean over seeds in percent [${percent(summary.confidence)} % interval, two-stage bootstrap over seeds and test images]. The val column is the validation split: the row marked "chosen on val" has the table's best mean validation ${metricLabel(summary.objective)}. Reference rows: scratch (the same network without pre-training, with the row's augmentation) and the trivial classifiers. Δ: the paired difference with the scratch row (same seeds and images) in points, with its interval and Holm-adjusted p-value over the table's comparisons. Heat maps: test F1 means, one config per cell.</p>
${gridSections(summary, model.grid)}
`;
  return layout(sweep.sweep, nonce, body, {
    eventsUrl: `/events/${segment(namespace)}/${segment(sweep.sweep)}${query({ results: model.resultCursor, points: model.pointCursor })}`,
    charts: CURVE_CHARTS,
    points: model.points.map(wirePoint),
    maxCurveTrials: model.maxCurveTrials,
    recentLimit: model.recentLimit,
  });
}

/** Where an artifact can be fetched from: the artifact store (relative URI) or http(s). */
export function artifactHref(uri: string, servesArtifacts: boolean): string | undefined {
  if (/^https?:\/\//i.test(uri)) return uri;
  const parts = uri.split('/');
  const relative =
    !uri.startsWith('/') &&
    !/^[a-z][a-z0-9+.-]*:/i.test(uri) &&
    !uri.includes('\\') &&
    parts.every((part) => part !== '' && part !== '.' && part !== '..');
  return servesArtifacts && relative ? `/artifacts/${parts.map(segment).join('/')}` : undefined;
}

export function trialPage(
  result: TrialResult,
  points: readonly MetricPoint[],
  servesArtifacts: boolean,
  nonce: string,
): SafeHtml {
  const { confusionMatrix: matrix, config } = result;
  const classes = [...Array(matrix.numClasses).keys()];
  const metricNames = [
    ...new Set([...Object.keys(result.valMetrics), ...Object.keys(result.metrics)]),
  ].sort();
  let configJson = config.configJson;
  try {
    configJson = JSON.stringify(JSON.parse(config.configJson), null, 2);
  } catch {
    // Stored configs are validated JSON; show the text as it is otherwise.
  }
  const images = result.artifacts.filter(
    (a) =>
      a.mediaType.startsWith('image/') && artifactHref(a.uri, servesArtifacts)?.startsWith('/'),
  );
  const body = html`<h1>${result.trial}</h1>
<p>Sweep <a href="${sweepLink(result.namespace, result.sweep)}">${result.sweep}</a> · namespace ${result.namespace} · attempt ${result.attempt} · finished ${timestamp(result.finishedAtMs)} after ${duration(result.durationSeconds)}</p>

<h2>Config</h2>
<table>
<tr><th>Method</th><td>${methodLabel(config.method)}</td></tr>
<tr><th>Mask</th><td>${maskTypeLabel(config.maskType)} ${maskSettingLabel(config)}</td></tr>
<tr><th>Augmentation</th><td>${augmentationLabel(config.augmentation)}</td></tr>
<tr><th>Seed</th><td>${config.seed}</td></tr>
<tr><th>Config key</th><td>${config.configKey}</td></tr>
<tr><th>Pre-training key</th><td>${config.pretrainKey || 'none: no pre-training'}</td></tr>
</table>
<pre id="config-json">${configJson}</pre>

<h2>Metrics</h2>
<p class="muted">Validation: the validation split at the end of fine-tuning, which choices read. Test: reported only; the confusion matrix and predictions below are the test split's.</p>
<table id="metrics">
<thead><tr><th>Metric</th><th class="num">Validation</th><th class="num">Test</th></tr></thead>
<tbody>${metricNames.map(
    (name) =>
      html`<tr><th>${name}</th><td class="num">${score(result.valMetrics[name])}</td><td class="num">${score(result.metrics[name])}</td></tr>`,
  )}</tbody>
</table>

<h2>Confusion matrix (test)</h2>
<table id="confusion">
<thead><tr><th>true \\ predicted</th>${classes.map((c) => html`<th class="num">${c}</th>`)}</tr></thead>
<tbody>${classes.map(
    (t) =>
      html`<tr><th>${t}</th>${classes.map(
        (p) => html`<td class="num">${matrix.counts[t * matrix.numClasses + p]}</td>`,
      )}</tr>`,
  )}</tbody>
</table>
<p class="muted">${result.predictions.length} per-sample predictions stored.</p>

<h2>Curves</h2>
${chartFigures()}

<h2>Artifacts</h2>
${
  result.artifacts.length === 0
    ? html`<p>None.</p>`
    : html`<ul id="artifacts">${result.artifacts.map((artifact) => {
        const href = artifactHref(artifact.uri, servesArtifacts);
        return html`<li>${href ? html`<a href="${href}">${artifact.name}</a>` : artifact.name} <span class="muted">${artifact.mediaType} · ${artifact.uri}</span></li>`;
      })}</ul>`
}
${
  images.length > 0
    ? html`<h2>Grad-CAM</h2><div class="gradcam">${images.map(
        (image) =>
          html`<figure><img src="${artifactHref(image.uri, servesArtifacts)}" alt="${image.name}"><figcaption>${image.name}</figcaption></figure>`,
      )}</div>`
    : ''
}
`;
  return layout(result.trial, nonce, body, {
    charts: CURVE_CHARTS,
    points: points.map(wirePoint),
    maxCurveTrials: 1,
  });
}

export interface ComparePageModel {
  namespace: string;
  sweep: string;
  metric: string;
  a: ConfigSummary | undefined;
  b: ConfigSummary | undefined;
  keyA: string;
  keyB: string;
  response: CompareConfigsResponse;
  resamples: number;
  seed: number;
  /** The interval's confidence level, as asked (0.95 when not). */
  confidence: number;
}

export function comparePage(model: ComparePageModel, nonce: string): SafeHtml {
  const { response: r } = model;
  const paired = r.pairedDifference;
  const describe = (config: ConfigSummary | undefined, key: string) =>
    config
      ? html`${configLabel(config.config)} <span class="key">${key}</span> (${config.seeds.length} seeds, mean test ${model.metric} ${score(config.metrics[model.metric]?.mean)}, mean val ${model.metric} ${score(config.valMetrics[model.metric]?.mean)})`
      : html`<span class="key">${key}</span>`;
  const body = html`<h1>Paired comparison</h1>
<p>Sweep <a href="${sweepLink(model.namespace, model.sweep)}">${model.sweep}</a> · test split</p>
<table id="compare">
<tr><th>A</th><td>${describe(model.a, model.keyA)}</td></tr>
<tr><th>B</th><td>${describe(model.b, model.keyB)}</td></tr>
<tr><th>Common seeds</th><td class="num">${paired ? paired.seeds.join(', ') : '—'}</td></tr>
<tr><th>Test images per seed</th><td class="num">${paired?.imagesPerSeed ?? '—'}${paired?.sharedTestSet ? ' (the same for every seed)' : ''}</td></tr>
<tr><th>Paired samples</th><td class="num">${r.pairedSamples}</td></tr>
<tr><th>test ${model.metric}(A) − test ${model.metric}(B)</th><td class="num">${points(r.difference)}</td></tr>
<tr><th>${percent(model.confidence)} % interval (paired two-stage bootstrap)</th><td class="num">[${points(r.ciLow)}, ${points(r.ciHigh)}]</td></tr>
<tr><th>p-value (two-sided, bootstrap)</th><td class="num">${pValue(paired?.pValue)}</td></tr>
<tr><th>Smallest difference detected (80 % power)</th><td class="num">${score(paired?.detectableDifference)}</td></tr>
<tr><th>Per seed, A − B</th><td class="num">${paired ? paired.perSeed.map((d, i) => `${paired.seeds[i]}: ${points(d)}`).join(' · ') : '—'}</td></tr>
<tr><th>Only A correct (b)</th><td class="num">${r.onlyACorrect}</td></tr>
<tr><th>Only B correct (c)</th><td class="num">${r.onlyBCorrect}</td></tr>
<tr><th>McNemar exact p (pooled pairs)</th><td class="num">${r.mcnemarPValue.toPrecision(3)}</td></tr>
</table>
<p class="muted">Only the seeds both configs have are compared, each on the test images both predicted (paired by sample id). A resample draws seeds, then test images, and scores both configs on the same draw: the interval and p-value carry the spread between seeds and the draw of the test set. ${model.resamples} resamples with bootstrap seed ${model.seed}, so the same request gives the same figures. Differences are in percentage points. McNemar's test, a second figure, treats every (seed, image) pair as independent.</p>
`;
  return layout('Compare', nonce, body);
}

export function errorPage(status: number, message: string, nonce: string): SafeHtml {
  return layout(
    String(status),
    nonce,
    html`<h1>${status === 404 ? 'Not found' : 'Bad request'}</h1><p class="error">${message}</p>`,
  );
}
