import { setTimeout as sleep } from 'node:timers/promises';
import { type ConnectionOptions, connect, ErrorCode, type NatsConnection, NatsError } from 'nats';
import { type BusCredentials, credentialOptions } from './credentials.js';

export interface BusConnectionOptions extends ConnectionOptions {
  /** Who connects (see busCredentialsFromEnv); anonymous without. */
  credentials?: BusCredentials;
}

/**
 * A NATS connection for the bus: it reconnects for ever (every 500 ms) so that a NATS
 * restart never closes it; the publisher buffers and the consumer resumes meanwhile.
 * `options` override these defaults (e.g. `servers`, `name`, `waitOnFirstConnect`).
 * Refused credentials reject with the server's AUTHORIZATION_VIOLATION.
 */
export async function connectBus(options: BusConnectionOptions): Promise<NatsConnection> {
  const { credentials, ...natsOptions } = options;
  return connect({
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...(await credentialOptions(credentials)),
    ...natsOptions,
  });
}

/** What a service hears while NATS is not up yet. */
export interface WaitingForBus {
  /** The connection attempts so far. */
  attempt: number;
  /** How long until the next one. */
  delayMs: number;
  /** Why the last one failed, e.g. CONNECTION_REFUSED. */
  reason: string;
}

/** Failures that a NATS still starting (or restarting) gives, worth waiting out. */
const NOT_UP_YET = new Set<string>([
  ErrorCode.ConnectionRefused,
  ErrorCode.ConnectionTimeout,
  ErrorCode.Timeout,
]);

/**
 * {@link connectBus} for a service's start-up, where NATS may start after it (a Helm
 * install starts every pod at once): while nothing answers, it tells `waiting` and tries
 * again after 0.5 s, doubling up to `maxDelayMs`. Any other failure (a bad URL, refused
 * credentials) is thrown at once.
 */
export async function connectBusWhenUp(
  options: BusConnectionOptions,
  waiting: (state: WaitingForBus) => void,
  { maxDelayMs = 30_000, signal }: { maxDelayMs?: number; signal?: AbortSignal } = {},
): Promise<NatsConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectBus(options);
    } catch (error) {
      if (!(error instanceof NatsError && NOT_UP_YET.has(error.code))) throw error;
      const delayMs = Math.min(maxDelayMs, 500 * 2 ** (attempt - 1));
      waiting({ attempt, delayMs, reason: error.code });
      await sleep(delayMs, undefined, { signal });
    }
  }
}
