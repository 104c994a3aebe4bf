/**
 * One leaderboard process: the SQLite store, the gRPC server, the web view and, with a NATS
 * address, the durable consumer of metric curves. `masksweep run` starts it in-process;
 * `masksweep-leaderboard` (main.ts) starts it as a service.
 */
import { type BusCredentials, connectBusWhenUp, ensureStream } from '@masksweep/bus';
import type { Log } from '@masksweep/log';
import type { NatsConnection } from 'nats';
import { Statistics, type StatisticsOptions } from './analysis/statistics.js';
import { type GrpcServer, startGrpcServer } from './grpc/server.js';
import { ingestMetrics } from './ingest.js';
import { Metrics } from './metrics.js';
import { openStore, type Store } from './store/store.js';
import { createWebServer, type WebServer } from './web/server.js';

export interface LeaderboardOptions {
  /** The SQLite file. */
  database: string;
  /** The bearer token that writes need. */
  token: string;
  /** host:port of the gRPC server. @default '127.0.0.1:0' */
  grpcAddress?: string;
  /** Port of the web view (0: any free one). @default 0 */
  httpPort?: number;
  /** @default '127.0.0.1' */
  httpHost?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Metric curves are read from this NATS when given. */
  natsUrl?: string;
  /** Who the leaderboard is to NATS (a reader). @default anonymous */
  natsCredentials?: BusCredentials;
  /** The durable consumer of this store: one per database. @default 'leaderboard' */
  durable?: string;
  /** The artifact store, for Grad-CAM images in the web view. */
  artifactsDir?: string;
  /** The statistics pool: threads, requests admitted at once, time limit (docs/leaderboard.md#limits). */
  statistics?: StatisticsOptions;
  log?: Log;
}

export interface Leaderboard {
  readonly store: Store;
  /** The statistics pool and cache gRPC and the web view share. */
  readonly statistics: Statistics;
  readonly grpcPort: number;
  readonly webUrl: string;
  close(): Promise<void>;
}

export async function startLeaderboard(options: LeaderboardOptions): Promise<Leaderboard> {
  const metrics = new Metrics();
  const store = openStore({ path: options.database, metrics });
  const statistics = new Statistics(store, options.statistics);
  let grpc: GrpcServer | undefined;
  let web: WebServer | undefined;
  let connection: NatsConnection | undefined;
  try {
    grpc = await startGrpcServer({
      store,
      metrics,
      token: options.token,
      address: options.grpcAddress,
      tls: options.tls,
      statistics,
    });
    web = await createWebServer({
      store,
      metrics,
      port: options.httpPort ?? 0,
      host: options.httpHost,
      artifactsDir: options.artifactsDir,
      statistics,
    });
    let stopIngest = async () => {};
    if (options.natsUrl) {
      const url = options.natsUrl;
      // The web view and gRPC already answer; the curves wait for NATS, saying so.
      const credentials = options.natsCredentials;
      connection = await connectBusWhenUp(
        { servers: url, name: 'leaderboard', credentials },
        (waiting) =>
          options.log?.(
            'warn',
            `waiting for NATS at ${url} (${waiting.reason}); trying again in ${waiting.delayMs / 1000} s`,
            { attempt: waiting.attempt },
          ),
      );
      await ensureStream(connection);
      const consumer = await ingestMetrics({
        connection,
        store,
        durable: options.durable,
        metrics,
        log: options.log,
      });
      stopIngest = () => consumer.stop();
    }
    const [grpcServer, webServer, natsConnection] = [grpc, web, connection];
    return {
      store,
      statistics,
      grpcPort: grpcServer.port,
      webUrl: webServer.url,
      close: async () => {
        await stopIngest();
        await natsConnection?.drain();
        await Promise.all([grpcServer.close(), webServer.close()]);
        await statistics.close();
        store.close();
      },
    };
  } catch (error) {
    await Promise.allSettled([grpc?.close(), web?.close(), connection?.close()]);
    await statistics.close();
    store.close();
    throw error;
  }
}
