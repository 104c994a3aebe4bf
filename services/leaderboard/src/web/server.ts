/**
 * The leaderboard's read-only web view over plain HTTP: server-rendered pages, a JSON API,
 * live updates (SSE), artifact files and the Prometheus metrics.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidRequestError, LeaderboardError, NotFoundError } from '../errors.js';
import { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { ConfigSummary, MetricPoint, SweepSummary } from '../store/types.js';
import { findArtifact } from './artifacts.js';
import type { SafeHtml } from './html.js';
import {
  CURVE_CHARTS,
  comparePage,
  errorPage,
  RANKED_METRICS,
  sweepPage,
  sweepsPage,
  trialPage,
} from './pages.js';
import { SweepEvents } from './sweep-events.js';

export interface WebServerOptions {
  store: Store;
  /**
   * 0 picks a free port.
   * @default 8080
   */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The artifact store's folder, served under /artifacts/; none when absent. */
  artifactsDir?: string;
  /** Shared with the store and the gRPC server when given. @default a new registry */
  metrics?: Metrics;
  /**
   * How long a live update waits for more changes to send them together.
   * @default 100
   */
  pushDelayMs?: number;
  /** Called with errors that became a 500. @default console.error */
  onError?: (error: unknown) => void;
}

export interface WebServer {
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  url: string;
  metrics: Metrics;
  close(): Promise<void>;
}

const RECENT_RESULTS = 20;
const CURVE_TRIALS = 8;
/** Points per curve sent with a page; longer curves are thinned evenly. */
const POINTS_PER_SERIES = 300;
const MAX_WEB_RESAMPLES = 10_000;

type Params = URLSearchParams;
type Route = {
  name: string;
  pattern: RegExp;
  /** html and json routes answer; raw ones write the response themselves. */
  kind: 'html' | 'json' | 'raw';
  /** The captures stay percent-encoded (the artifact route checks them itself). */
  encodedCaptures?: true;
  handle: (
    match: string[],
    params: Params,
    request: IncomingMessage,
    response: ServerResponse,
  ) => Promise<Answer | undefined> | Answer | undefined;
};
/** What a handler answers; undefined when it wrote the response itself. */
type Answer =
  | { status?: number; html: (nonce: string) => SafeHtml }
  | { status?: number; json: unknown };

export async function createWebServer(options: WebServerOptions): Promise<WebServer> {
  const { store } = options;
  const metrics = options.metrics ?? new Metrics();
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  const events = new SweepEvents({
    store,
    metrics,
    pushDelayMs: options.pushDelayMs ?? 100,
    recentLimit: RECENT_RESULTS,
  });
  const sortedConfigs = new WeakMap<SweepSummary, Map<string, ConfigSummary[]>>();

  const requireSweep = (namespace: string, sweep: string) => {
    const info = store.getSweep(namespace, sweep);
    if (!info) {
      throw new NotFoundError(
        'sweep',
        `no sweep ${JSON.stringify(sweep)} in namespace ${JSON.stringify(namespace)}`,
      );
    }
    return info;
  };

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
      const value = (c: ConfigSummary) =>
        sort === 'n' ? c.seeds.length : (c.metrics[sort]?.mean ?? Number.NEGATIVE_INFINITY);
      const sign = order === 'desc' ? -1 : 1;
      configs = [...summary.configs].sort(
        (a, b) =>
          sign * (value(a) - value(b)) || (a.config.configKey < b.config.configKey ? -1 : 1),
      );
      bySort.set(key, configs);
    }
    return configs;
  };

  const curvePoints = (namespace: string, trials: readonly string[]): MetricPoint[] =>
    trials.flatMap((trial) => thinCurves(store.metricCurve({ namespace, trial, limit: 20_000 })));

  const routes: Route[] = [
    {
      name: 'sweeps',
      pattern: /^\/$/,
      kind: 'html',
      handle: () => ({ html: (nonce) => sweepsPage(store.listSweeps(), nonce) }),
    },
    {
      name: 'sweep',
      pattern: /^\/sweeps\/([^/]+)\/([^/]+)$/,
      kind: 'html',
      handle: ([namespace, sweep], params) => {
        const info = requireSweep(namespace as string, sweep as string);
        // Cursors first: anything stored while the page renders comes again live.
        const resultCursor = store.latestSequence(info.namespace, info.sweep);
        const pointCursor = store.lastPointId();
        const summary = store.getSweepSummary({ namespace: info.namespace, sweep: info.sweep });
        const sort = oneOf(params, 'sort', [...RANKED_METRICS, 'n'], 'f1');
        const order = oneOf(params, 'order', ['desc', 'asc'] as const, 'desc');
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
          html: (nonce) =>
            sweepPage(
              {
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
              },
              nonce,
            ),
        };
      },
    },
    {
      name: 'trial',
      pattern: /^\/trials\/([^/]+)\/([^/]+)$/,
      kind: 'html',
      handle: ([namespace, trial]) => {
        const result = store.getResult(namespace as string, trial as string);
        if (!result) {
          throw new NotFoundError(
            'trial',
            `no result of trial ${JSON.stringify(trial)} in namespace ${JSON.stringify(namespace)}`,
          );
        }
        const points = curvePoints(result.namespace, [result.trial]);
        return {
          html: (nonce) => trialPage(result, points, options.artifactsDir !== undefined, nonce),
        };
      },
    },
    {
      name: 'compare',
      pattern: /^\/compare$/,
      kind: 'html',
      handle: (_match, params) => {
        const request = compareRequest(params);
        const response = store.compareConfigs(request);
        const summary = store.getSweepSummary({
          namespace: request.namespace,
          sweep: request.sweep,
        });
        const find = (key: string) => summary.configs.find((c) => c.config.configKey === key);
        return {
          html: (nonce) =>
            comparePage(
              {
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
              },
              nonce,
            ),
        };
      },
    },
    {
      name: 'artifact',
      pattern: /^\/artifacts\/(.+)$/,
      kind: 'raw',
      encodedCaptures: true,
      handle: async ([path], _params, request, response) => {
        const lookup = await findArtifact(options.artifactsDir, path as string);
        if (!lookup.found) {
          sendText(response, lookup.status, lookup.message);
          return undefined;
        }
        response.writeHead(200, {
          'Content-Type': lookup.contentType,
          'Content-Length': lookup.size,
          'X-Content-Type-Options': 'nosniff',
          // An HTML or SVG artifact must not run scripts on the leaderboard's origin.
          'Content-Security-Policy':
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
          'Cache-Control': 'private, max-age=300',
        });
        if (request.method === 'HEAD') response.end();
        else createReadStream(lookup.file).pipe(response);
        return undefined;
      },
    },
    {
      name: 'events',
      pattern: /^\/events\/([^/]+)\/([^/]+)$/,
      kind: 'raw',
      handle: ([namespace, sweep], params, request, response) => {
        const info = requireSweep(namespace as string, sweep as string);
        events.open(request, response, {
          namespace: info.namespace,
          sweep: info.sweep,
          resultCursor: optionalInteger(params, 'results'),
          pointCursor: optionalInteger(params, 'points'),
        });
        return undefined;
      },
    },
    {
      name: 'api_sweeps',
      pattern: /^\/api\/sweeps$/,
      kind: 'json',
      handle: () => ({ json: { sweeps: store.listSweeps() } }),
    },
    {
      name: 'api_summary',
      pattern: /^\/api\/sweeps\/([^/]+)\/([^/]+)\/summary$/,
      kind: 'json',
      handle: ([namespace, sweep], params) => ({
        json: store.getSweepSummary({
          namespace: namespace as string,
          sweep: sweep as string,
          confidence: optionalNumber(params, 'confidence'),
        }),
      }),
    },
    {
      name: 'api_results',
      pattern: /^\/api\/sweeps\/([^/]+)\/([^/]+)\/results$/,
      kind: 'json',
      handle: ([namespace, sweep], params) => {
        const configFilter: Record<string, string> = {};
        for (const [name, value] of params) {
          if (name.startsWith('filter.')) configFilter[name.slice('filter.'.length)] = value;
        }
        return {
          json: store.listResults({
            namespace: namespace as string,
            sweep: sweep as string,
            configFilter,
            sortBy: params.get('sort_by') ?? undefined,
            ascending: params.get('ascending') === 'true',
            pageSize: optionalInteger(params, 'page_size'),
            pageToken: params.get('page_token') ?? undefined,
            includePredictions: params.get('include_predictions') === 'true',
          }),
        };
      },
    },
    {
      name: 'api_trial',
      pattern: /^\/api\/trials\/([^/]+)\/([^/]+)$/,
      kind: 'json',
      handle: ([namespace, trial]) => {
        const result = store.getResult(namespace as string, trial as string);
        if (!result)
          throw new NotFoundError('trial', `no result of trial ${JSON.stringify(trial)}`);
        return { json: result };
      },
    },
    {
      name: 'api_curve',
      pattern: /^\/api\/trials\/([^/]+)\/([^/]+)\/curve$/,
      kind: 'json',
      handle: ([namespace, trial], params) => ({
        json: {
          points: store.metricCurve({
            namespace: namespace as string,
            trial: trial as string,
            names: params.getAll('name'),
            sinceId: optionalInteger(params, 'since'),
          }),
        },
      }),
    },
    {
      name: 'api_compare',
      pattern: /^\/api\/compare$/,
      kind: 'json',
      handle: (_match, params) => ({ json: store.compareConfigs(compareRequest(params)) }),
    },
    {
      name: 'metrics',
      pattern: /^\/metrics$/,
      kind: 'raw',
      handle: async (_match, _params, _request, response) => {
        const text = await metrics.text();
        response.writeHead(200, { 'Content-Type': metrics.contentType });
        response.end(text);
        return undefined;
      },
    },
    {
      name: 'health',
      pattern: /^\/healthz$/,
      kind: 'raw',
      handle: (_match, _params, _request, response) => {
        sendText(response, 200, 'ok');
        return undefined;
      },
    },
  ];

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    // Routing uses the raw path: a URL parser would resolve "..", which the artifact route
    // must see to refuse.
    const rawUrl = request.url ?? '/';
    const questionMark = rawUrl.indexOf('?');
    const path = questionMark === -1 ? rawUrl : rawUrl.slice(0, questionMark);
    const params = new URLSearchParams(questionMark === -1 ? '' : rawUrl.slice(questionMark + 1));
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of routes) {
      match = candidate.pattern.exec(path);
      if (match) {
        route = candidate;
        break;
      }
    }
    const timer = metrics.requestDuration.startTimer({
      transport: 'http',
      route: route?.name ?? 'unknown',
    });
    if (route?.name !== 'events')
      response.on('finish', () => timer({ status: String(response.statusCode) }));
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      sendText(response, 405, 'the leaderboard web view is read-only');
      return;
    }
    if (!route || !match) {
      sendHtml(response, 404, (nonce) => errorPage(404, `no page at ${path}`, nonce));
      return;
    }
    try {
      const captures = route.encodedCaptures
        ? match.slice(1)
        : match.slice(1).map(decodePathSegment);
      const answer = await route.handle(captures, params, request, response);
      if (answer === undefined) return;
      if ('json' in answer) sendJson(response, answer.status ?? 200, answer.json);
      else sendHtml(response, answer.status ?? 200, answer.html);
    } catch (error) {
      const status =
        error instanceof NotFoundError ? 404 : error instanceof LeaderboardError ? 400 : 500;
      if (status === 500) onError(error);
      const message =
        status === 500 ? 'the leaderboard failed to answer' : (error as Error).message;
      if (response.headersSent) {
        response.end();
      } else if (route.kind === 'json') {
        const field = error instanceof LeaderboardError ? error.field : undefined;
        sendJson(response, status, { error: { field, message } });
      } else {
        sendHtml(response, status, (nonce) => errorPage(status, message, nonce));
      }
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      onError(error);
      if (!response.headersSent) sendText(response, 500, 'the leaderboard failed to answer');
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    metrics,
    close: async () => {
      events.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidRequestError(
      'path',
      `${JSON.stringify(segment)} is not valid percent-encoding`,
    );
  }
}

function securityHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self'",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

function sendHtml(
  response: ServerResponse,
  status: number,
  page: (nonce: string) => SafeHtml,
): void {
  const nonce = randomBytes(16).toString('base64');
  const body = page(nonce).value;
  response.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...securityHeaders(nonce),
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  // JSON has no NaN: undefined statistics (one seed) go out as null.
  const body = JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'number' && !Number.isFinite(item) ? null : item,
  );
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  response.end(body);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(text);
}

function oneOf<T extends string>(
  params: Params,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidRequestError(
      name,
      `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function integerParam(
  params: Params,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new InvalidRequestError(
      name,
      `must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

function optionalInteger(params: Params, name: string): number | undefined {
  return params.has(name) ? integerParam(params, name, 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
}

function optionalNumber(params: Params, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number)) {
    throw new InvalidRequestError(name, `must be a number, got ${JSON.stringify(value)}`);
  }
  return number;
}

function requiredParam(params: Params, name: string): string {
  const value = params.get(name);
  if (!value) throw new InvalidRequestError(name, 'is required');
  return value;
}

function compareRequest(params: Params) {
  return {
    namespace: requiredParam(params, 'ns'),
    sweep: requiredParam(params, 'sweep'),
    configKeyA: requiredParam(params, 'a'),
    configKeyB: requiredParam(params, 'b'),
    metric: params.get('metric') || 'f1',
    seed: integerParam(params, 'seed', 0, 0, 2 ** 32 - 1),
    resamples: integerParam(params, 'resamples', 2000, 1, MAX_WEB_RESAMPLES),
    confidence: optionalNumber(params, 'confidence'),
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
