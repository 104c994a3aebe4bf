export { Statistics, type StatisticsOptions } from './analysis/statistics.js';
export {
  type ResolvedRow,
  rankingOrder,
  resolveRows,
  tablesByGrid,
  testSetLine,
} from './analysis/table-rows.js';
export { ConfigError, leaderboardConfig } from './config.js';
export {
  BusyError,
  ConflictError,
  InvalidMetricEventError,
  InvalidRequestError,
  InvalidResultError,
  LeaderboardError,
  NotFoundError,
  StatisticsTimeoutError,
} from './errors.js';
export { type GrpcServer, type GrpcServerOptions, startGrpcServer } from './grpc/server.js';
export { ingestMetrics, type MetricIngestOptions } from './ingest.js';
export { configLabel } from './labels.js';
export { type Leaderboard, type LeaderboardOptions, startLeaderboard } from './leaderboard.js';
export { Metrics } from './metrics.js';
export { SCHEMA_VERSION, SchemaTooNewError } from './store/schema.js';
export { openStore, Store, type StoreListener, type StoreOptions } from './store/store.js';
export * from './store/types.js';
export { MIN_HEX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, writeTokenProblem } from './token.js';
export { interval, points, pValue, score } from './web/format.js';
export { type HeatMap, heatStep, maskHeatMaps } from './web/heat-maps.js';
export { createWebServer, type WebServer, type WebServerOptions } from './web/server.js';
