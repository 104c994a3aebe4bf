/**
 * Metric curves from JetStream into the store: a durable consumer whose batches are stored
 * in one transaction each and acknowledged only after the commit, so a leaderboard killed
 * at any point gets the unacknowledged events again, and the store's unique key keeps each
 * point once.
 */
import { allEventsSubject, consumeEvents, type EventConsumer } from '@masksweep/bus';
import type { Log } from '@masksweep/log';
import type { MetricEvent } from '@masksweep/proto';
import type { NatsConnection } from 'nats';
import { InvalidMetricEventError } from './errors.js';
import type { Store } from './store/store.js';

export interface MetricIngestOptions {
  connection: NatsConnection;
  store: Store;
  /** @default 'leaderboard' */
  durable?: string;
  /** How long an unacknowledged batch waits before redelivery. @default 30000 */
  ackWaitMs?: number;
  log?: Log;
}

export function ingestMetrics(options: MetricIngestOptions): Promise<EventConsumer> {
  const { store, log = () => {} } = options;
  return consumeEvents({
    connection: options.connection,
    durable: options.durable ?? 'leaderboard',
    filterSubject: allEventsSubject('metric'),
    ackWaitMs: options.ackWaitMs,
    batchSize: 1024,
    handler: async (batch) => {
      const events = batch.flatMap((e) => (e.kind === 'metric' ? [e.event as MetricEvent] : []));
      try {
        store.insertMetricEvents(events);
      } catch (error) {
        if (!(error instanceof InvalidMetricEventError)) throw error;
        // One bad event must not hold back the rest: store them one by one.
        for (const event of events) {
          try {
            store.insertMetricEvents([event]);
          } catch (single) {
            if (!(single instanceof InvalidMetricEventError)) throw single;
            log('warn', 'dropped a metric event the store refuses', {
              trial: event.trial,
              reason: single.message,
            });
          }
        }
      }
    },
    onPoison: (poison) =>
      log('warn', 'terminated an event that cannot be decoded', {
        subject: poison.subject,
        reason: poison.error.message,
      }),
    onHandlerError: (error) =>
      log('warn', 'storing metric events failed; they will come again', { reason: String(error) }),
  });
}
