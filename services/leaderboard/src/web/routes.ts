/** The web view's routes: pages, the JSON API, live updates, artifacts, metrics, health. */
import type { Statistics } from '../analysis/statistics.js';
import { NotFoundError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { findArtifact } from './artifacts.js';
import { comparePage, sweepPage, sweepsPage, trialPage } from './pages.js';
import { compareRequest, optionalInteger, optionalNumber } from './params.js';
import { sendText } from './responses.js';
import type { Route } from './router.js';
import type { SweepEvents } from './sweep-events.js';
import type { ViewModels } from './view-models.js';

export interface RouteContext {
  store: Store;
  /** Where comparisons are computed (off the event loop) and cached. */
  statistics: Statistics;
  views: ViewModels;
  events: SweepEvents;
  metrics: Metrics;
  /** The artifact store's folder; artifacts are not served without it. */
  artifactsDir: string | undefined;
}

export function webRoutes(context: RouteContext): Route[] {
  const { store, statistics, views, events, metrics, artifactsDir } = context;
  return [
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
      handle: async ([namespace, sweep], params) => {
        const model = await views.sweepPage(namespace as string, sweep as string, params);
        return { html: (nonce) => sweepPage(model, nonce) };
      },
    },
    {
      name: 'trial',
      pattern: /^\/trials\/([^/]+)\/([^/]+)$/,
      kind: 'html',
      handle: ([namespace, trial]) => {
        const { result, points } = views.trialPage(namespace as string, trial as string);
        return {
          html: (nonce) => trialPage(result, points, artifactsDir !== undefined, nonce),
        };
      },
    },
    {
      name: 'compare',
      pattern: /^\/compare$/,
      kind: 'html',
      handle: async (_match, params) => {
        const model = await views.comparePage(params);
        return { html: (nonce) => comparePage(model, nonce) };
      },
    },
    {
      name: 'artifact',
      pattern: /^\/artifacts\/(.+)$/,
      kind: 'raw',
      encodedCaptures: true,
      handle: async ([path], _params, request, response) => {
        const lookup = await findArtifact(artifactsDir, path as string);
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
        if (request.method === 'HEAD') {
          await lookup.handle.close();
          response.end();
        } else {
          // A read that fails midway (an I/O error) ends this response, not the process.
          lookup.handle
            .createReadStream()
            .on('error', () => response.destroy())
            .pipe(response);
        }
        return undefined;
      },
    },
    {
      name: 'events',
      pattern: /^\/events\/([^/]+)\/([^/]+)$/,
      kind: 'raw',
      untimed: true,
      handle: ([namespace, sweep], params, request, response) => {
        const info = store.requireSweep(namespace as string, sweep as string);
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
      handle: async ([namespace, sweep], params) => ({
        json: await statistics.sweepSummary({
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
        const metricFilter: Record<string, string> = {};
        for (const [name, value] of params) {
          if (name.startsWith('filter.')) configFilter[name.slice('filter.'.length)] = value;
          if (name.startsWith('metric.')) metricFilter[name.slice('metric.'.length)] = value;
        }
        return {
          json: store.listResults({
            namespace: namespace as string,
            sweep: sweep as string,
            configFilter,
            metricFilter,
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
      handle: async (_match, params) => ({
        json: await statistics.compareConfigs(compareRequest(params)),
      }),
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
}
