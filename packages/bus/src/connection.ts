import { type ConnectionOptions, connect, type NatsConnection } from 'nats';

/**
 * A NATS connection for the bus: it reconnects for ever (every 500 ms) so that a NATS
 * restart never closes it; the publisher buffers and the consumer resumes meanwhile.
 * `options` override these defaults (e.g. `servers`, `name`, `waitOnFirstConnect`).
 */
export function connectBus(options: ConnectionOptions): Promise<NatsConnection> {
  return connect({ maxReconnectAttempts: -1, reconnectTimeWait: 500, ...options });
}
