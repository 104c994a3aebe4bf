/**
 * The leaderboard's read-only web view over plain HTTP: server-rendered pages, a JSON API,
 * live updates (SSE), artifact files and the Prometheus metrics. Routes are in routes.ts,
 * what they share in router.ts, what pages show in view-models.ts.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Statistics } from '../analysis/statistics.js';
import { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { sendText } from './responses.js';
import { createRouter } from './router.js';
import { webRoutes } from './routes.js';
import { SweepEvents } from './sweep-events.js';
import { createViewModels, RECENT_RESULTS } from './view-models.js';

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
  /** The statistics pool and cache, shared with gRPC. @default one of its own */
  statistics?: Statistics;
}

export interface WebServer {
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  url: string;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function createWebServer(options: WebServerOptions): Promise<WebServer> {
  const { store } = options;
  const metrics = options.metrics ?? new Metrics();
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  const ownStatistics = options.statistics ? undefined : new Statistics(store);
  const statistics = options.statistics ?? (ownStatistics as Statistics);
  const events = new SweepEvents({
    store,
    statistics,
    metrics,
    pushDelayMs: options.pushDelayMs ?? 100,
    recentLimit: RECENT_RESULTS,
  });
  const views = createViewModels(store, statistics);
  const routes = webRoutes({
    store,
    statistics,
    views,
    events,
    metrics,
    artifactsDir: options.artifactsDir,
  });
  const handle = createRouter(routes, { metrics, onError });

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
      await ownStatistics?.close();
    },
  };
}
