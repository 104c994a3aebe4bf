import {
  DiscardPolicy,
  type NatsConnection,
  type NatsError,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { allEventsSubject } from './subjects.js';

/** The one JetStream stream of masksweep events (metric and lifecycle). */
export const EVENTS_STREAM = 'MASKSWEEP_EVENTS';

export interface EventsStreamOptions {
  /** How long events are kept. @default 30 days */
  maxAgeMs?: number;
  /** Bytes kept at most; the oldest events go first. @default 8 GiB */
  maxBytes?: number;
  /** How long a message id is remembered to drop a re-sent event. @default 10 minutes */
  duplicateWindowMs?: number;
  /** Copies in a NATS cluster. @default 1 */
  replicas?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The stream's configuration: file storage, limits retention, oldest discarded first. */
export function eventsStreamConfig(options: EventsStreamOptions = {}): Partial<StreamConfig> {
  const {
    maxAgeMs = 30 * DAY_MS,
    maxBytes = 8 * 2 ** 30,
    duplicateWindowMs = 10 * 60 * 1000,
    replicas = 1,
  } = options;
  return {
    name: EVENTS_STREAM,
    subjects: [allEventsSubject()],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
    max_bytes: maxBytes,
    duplicate_window: nanos(duplicateWindowMs),
    num_replicas: replicas,
  };
}

/**
 * Creates the events stream, or brings an existing one to `options`; safe to call from
 * every process at start-up.
 */
export async function ensureStream(
  connection: NatsConnection,
  options: EventsStreamOptions = {},
): Promise<StreamInfo> {
  const manager = await connection.jetstreamManager();
  const wanted = eventsStreamConfig(options);
  let info: StreamInfo;
  try {
    info = await manager.streams.info(EVENTS_STREAM);
  } catch (error) {
    if ((error as NatsError).api_error?.err_code !== STREAM_NOT_FOUND) throw error;
    try {
      return await manager.streams.add(wanted);
    } catch (addError) {
      // Another process created it in between: fall through to the update below.
      if ((addError as NatsError).api_error?.err_code !== STREAM_NAME_IN_USE) throw addError;
      info = await manager.streams.info(EVENTS_STREAM);
    }
  }
  const differs = (Object.keys(wanted) as (keyof StreamConfig)[]).some(
    (key) => JSON.stringify(info.config[key]) !== JSON.stringify(wanted[key]),
  );
  return differs ? manager.streams.update(EVENTS_STREAM, wanted) : info;
}

// JetStream API error codes (nats-server's errors.json).
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
