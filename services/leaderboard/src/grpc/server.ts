/**
 * The leaderboard's gRPC face: leaderboard.proto over the store, the standard health
 * service beside it, bearer-token checks on writes, TLS when a certificate is given.
 */
import { timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  HEALTH_SERVICE_NAME,
  HealthCheckResponse_ServingStatus,
  type HealthServer,
  HealthService,
  LEADERBOARD_SERVICE_NAME,
  type LeaderboardServer,
  LeaderboardService,
} from '@masksweep/proto';
import { Statistics } from '../analysis/statistics.js';
import {
  BusyError,
  ConflictError,
  LeaderboardError,
  NotFoundError,
  StatisticsTimeoutError,
} from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { writeTokenProblem } from '../token.js';

export interface GrpcServerOptions {
  store: Store;
  /** Writes (RegisterSweep, ReportResult) need `authorization: Bearer <token>`. */
  token: string;
  /** host:port to bind. @default '127.0.0.1:0' */
  address?: string;
  /** PEM certificate chain and key: TLS instead of plain text. */
  tls?: { cert: Buffer; key: Buffer };
  metrics?: Metrics;
  /** The statistics pool and cache, shared with the web view. @default one of its own */
  statistics?: Statistics;
}

export interface GrpcServer {
  readonly port: number;
  /** Stops accepting calls and ends open streams. */
  close(): Promise<void>;
}

const DEFAULT_NAMESPACE = 'default';

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const { store, metrics } = options;
  if (!options.token) throw new Error('token: the leaderboard needs a write token');
  const weakness = writeTokenProblem(options.token);
  if (weakness) throw new Error(`token: ${weakness}`);
  const ownStatistics = options.statistics ? undefined : new Statistics(store);
  const statistics = options.statistics ?? (ownStatistics as Statistics);
  const expected = Buffer.from(`Bearer ${options.token}`);
  const authorized = (call: grpc.ServerUnaryCall<unknown, unknown>) => {
    const given = Buffer.from(String(call.metadata.get('authorization')[0] ?? ''));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  /** One unary handler: timing, error mapping and, for writes, the token check. */
  function unary<Req, Res>(
    route: string,
    handle: (request: Req) => Res | Promise<Res>,
    write = false,
  ): grpc.handleUnaryCall<Req, Res> {
    return async (call, callback) => {
      const started = performance.now();
      let code = grpc.status.OK;
      try {
        if (write && !authorized(call as grpc.ServerUnaryCall<unknown, unknown>)) {
          code = grpc.status.UNAUTHENTICATED;
          callback({ code, details: 'authorization: a bearer token is needed for writes' });
          return;
        }
        if (call.request instanceof Undecodable) {
          code = grpc.status.INVALID_ARGUMENT;
          callback({ code, details: call.request.details(route) });
          return;
        }
        callback(null, await handle(call.request));
      } catch (error) {
        const serviceError = toServiceError(error);
        code = serviceError.code;
        callback(serviceError);
      } finally {
        metrics?.requestDuration.observe(
          { transport: 'grpc', route, status: grpc.status[code] },
          (performance.now() - started) / 1000,
        );
      }
    };
  }

  const leaderboard: LeaderboardServer = {
    registerSweep: unary(
      'RegisterSweep',
      (request) => store.registerSweep(withNamespace(request)),
      true,
    ),
    reportResult: unary(
      'ReportResult',
      (request) => {
        if (!request.result) throw new LeaderboardError('result', 'is required');
        return store.reportResult(withNamespace(request.result));
      },
      true,
    ),
    listResults: unary('ListResults', (request) => store.listResults(withNamespace(request))),
    getSweepSummary: unary('GetSweepSummary', (request) =>
      statistics.sweepSummary(withNamespace(request)),
    ),
    compareConfigs: unary('CompareConfigs', (request) =>
      statistics.compareConfigs(withNamespace(request)),
    ),
    watchResults: (call) => {
      if (call.request instanceof Undecodable) {
        call.emit('error', {
          code: grpc.status.INVALID_ARGUMENT,
          details: call.request.details('WatchResults'),
        });
        return;
      }
      const request = withNamespace(call.request);
      let sequence = request.sinceSequence;
      if (sequence === 0 && request.sweep)
        sequence = store.latestSequence(request.namespace, request.sweep);
      const sendNew = () => {
        try {
          for (;;) {
            const results = store.resultsSince(sequence, {
              namespace: request.namespace,
              sweep: request.sweep || undefined,
            });
            for (const result of results) {
              call.write(result);
              sequence = result.sequence;
            }
            if (results.length === 0) return;
          }
        } catch (error) {
          call.emit('error', toServiceError(error));
        }
      };
      streams.add(call as grpc.ServerWritableStream<unknown, unknown>);
      const unsubscribe = store.subscribe((change) => {
        if (
          change.type === 'result' &&
          change.namespace === request.namespace &&
          (!request.sweep || change.sweep === request.sweep)
        )
          sendNew();
      });
      const stop = () => {
        unsubscribe();
        streams.delete(call as grpc.ServerWritableStream<unknown, unknown>);
      };
      call.on('cancelled', stop);
      call.on('close', stop);
      if (request.sinceSequence > 0) sendNew();
    },
  };

  const serving = (service: string) =>
    service === '' || service === LEADERBOARD_SERVICE_NAME || service === HEALTH_SERVICE_NAME;
  const health: HealthServer = {
    check: (call, callback) => {
      if (call.request instanceof Undecodable) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: call.request.details('Check') });
        return;
      }
      if (!serving(call.request.service)) {
        callback({
          code: grpc.status.NOT_FOUND,
          details: `service ${call.request.service} is not served here`,
        });
        return;
      }
      callback(null, { status: HealthCheckResponse_ServingStatus.SERVING });
    },
    watch: (call) => {
      if (call.request instanceof Undecodable) {
        call.emit('error', {
          code: grpc.status.INVALID_ARGUMENT,
          details: call.request.details('Watch'),
        });
        return;
      }
      call.write({
        status: serving(call.request.service)
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
      });
      streams.add(call as grpc.ServerWritableStream<unknown, unknown>);
      call.on('cancelled', () =>
        streams.delete(call as grpc.ServerWritableStream<unknown, unknown>),
      );
    },
  };

  const server = new grpc.Server();
  server.addService(decodingOrRefusing(LeaderboardService), leaderboard);
  server.addService(decodingOrRefusing(HealthService), health);
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: options.tls.cert, private_key: options.tls.key },
      ])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.address ?? '127.0.0.1:0', credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const stream of streams) stream.end();
        streams.clear();
        server.tryShutdown(() => resolve());
        // Calls still open after a grace period are cut.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      }).then(() => ownStatistics?.close()),
  };
}

/**
 * A request whose bytes are not the message: grpc-js answers a decoding failure with
 * INTERNAL, which clients take for a server fault and retry; the handler answers this one
 * INVALID_ARGUMENT instead.
 */
class Undecodable {
  constructor(readonly reason: string) {}

  details(route: string): string {
    return `request: the bytes are not a ${route} request (${this.reason})`;
  }
}

/** The service whose decoders give {@link Undecodable} instead of throwing. */
function decodingOrRefusing<Service extends Record<string, { requestDeserialize: Decoder }>>(
  service: Service,
): Service {
  return Object.fromEntries(
    Object.entries(service).map(([name, definition]) => [
      name,
      {
        ...definition,
        requestDeserialize: (bytes: Buffer) => {
          try {
            return definition.requestDeserialize(bytes);
          } catch (error) {
            return new Undecodable((error as Error).message);
          }
        },
      },
    ]),
  ) as Service;
}

type Decoder = (bytes: Buffer) => unknown;

function withNamespace<T extends { namespace: string }>(request: T): T {
  return request.namespace ? request : { ...request, namespace: DEFAULT_NAMESPACE };
}

/**
 * Store errors name the field: INVALID_ARGUMENT, NOT_FOUND or ALREADY_EXISTS with `field` in
 * the trailers. A full statistics pool is RESOURCE_EXHAUSTED naming its limit (`limit` and
 * `retry-after` in the trailers); statistics stopped at the time limit, DEADLINE_EXCEEDED.
 */
function toServiceError(error: unknown): grpc.StatusObject {
  if (error instanceof BusyError) {
    const metadata = new grpc.Metadata();
    metadata.set('limit', error.limit);
    metadata.set('retry-after', String(error.retryAfterSeconds));
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: error.message, metadata };
  }
  if (error instanceof StatisticsTimeoutError) {
    return {
      code: grpc.status.DEADLINE_EXCEEDED,
      details: error.message,
      metadata: new grpc.Metadata(),
    };
  }
  if (error instanceof LeaderboardError) {
    const metadata = new grpc.Metadata();
    metadata.set('field', error.field);
    return {
      code:
        error instanceof NotFoundError
          ? grpc.status.NOT_FOUND
          : error instanceof ConflictError
            ? grpc.status.ALREADY_EXISTS
            : grpc.status.INVALID_ARGUMENT,
      details: error.message,
      metadata,
    };
  }
  return {
    code: grpc.status.INTERNAL,
    details: (error as Error).message ?? String(error),
    metadata: new grpc.Metadata(),
  };
}
