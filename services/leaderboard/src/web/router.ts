/**
 * The web view's routing: a table of path patterns matched against the raw request path,
 * and what every route shares (read-only methods, request timing, 404, and errors turned
 * into a 400, 404 or 500 page or JSON body). Hand-written rather than a router library's:
 * the routes are a dozen regular expressions, and the artifact route must see the path
 * still percent-encoded and with its "..", which routers decode or resolve.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BusyError,
  InvalidRequestError,
  LeaderboardError,
  NotFoundError,
  StatisticsTimeoutError,
} from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { SafeHtml } from './html.js';
import { errorPage } from './pages.js';
import type { Params } from './params.js';
import { sendHtml, sendJson, sendText } from './responses.js';

export interface Route {
  /** The route label of the request-duration metric. */
  name: string;
  pattern: RegExp;
  /** html and json routes answer; raw ones write the response themselves. */
  kind: 'html' | 'json' | 'raw';
  /** The captures stay percent-encoded (the artifact route checks them itself). */
  encodedCaptures?: true;
  /** Long-lived responses (event streams) are not timed. */
  untimed?: true;
  handle: (
    match: string[],
    params: Params,
    request: IncomingMessage,
    response: ServerResponse,
  ) => Promise<Answer | undefined> | Answer | undefined;
}

/** What a handler answers; undefined when it wrote the response itself. */
export type Answer =
  | { status?: number; html: (nonce: string) => SafeHtml }
  | { status?: number; json: unknown };

export interface RouterOptions {
  metrics: Metrics;
  /** Called with errors that became a 500. */
  onError: (error: unknown) => void;
}

/** The request handler of `routes`, tried in order. */
export function createRouter(routes: readonly Route[], options: RouterOptions) {
  const { metrics, onError } = options;
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
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
    if (!route?.untimed)
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
      const status = errorStatus(error);
      if (status === 500) onError(error);
      const message =
        status === 500 ? 'the leaderboard failed to answer' : (error as Error).message;
      if (error instanceof BusyError && !response.headersSent)
        response.setHeader('Retry-After', String(error.retryAfterSeconds));
      if (response.headersSent) {
        response.end();
      } else if (route.kind === 'json') {
        const field = error instanceof LeaderboardError ? error.field : undefined;
        const limit = error instanceof BusyError ? error.limit : undefined;
        sendJson(response, status, { error: { field, limit, message } });
      } else {
        sendHtml(response, status, (nonce) => errorPage(status, message, nonce));
      }
    }
  };
}

/** 404 and 400 for the request's own faults, 429 and 503 for the statistics pool's limits. */
function errorStatus(error: unknown): number {
  if (error instanceof NotFoundError) return 404;
  if (error instanceof LeaderboardError) return 400;
  if (error instanceof BusyError) return 429;
  if (error instanceof StatisticsTimeoutError) return 503;
  return 500;
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
