export {
  encodeRepeatedMessages,
  InvalidMessageError,
  type MessageCodec,
  MessageDecodeError,
  type MessageInit,
} from './codec.js';
export * from './generated/grpc-health-v1.js';
export * from './generated/masksweep-v1.js';
export {
  type CallOptions,
  createHealthClient,
  createLeaderboardClient,
  HEALTH_SERVICE_NAME,
  type HealthClient,
  HealthClientConstructor,
  type HealthServer,
  HealthService,
  LEADERBOARD_SERVICE_NAME,
  type LeaderboardClient,
  LeaderboardClientConstructor,
  type LeaderboardServer,
  LeaderboardService,
} from './grpc.js';
