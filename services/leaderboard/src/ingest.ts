/**
 * Metric curves from JetStream into the store: a durable consumer whose batches are stored
 * in one transaction each and acknowledged only after the commit, so a leaderboard killed
 * at any point gets the unacknowledged events again, and the store's unique key keeps each
 * point once.
 *
 * Only registered sweeps' curves are stored. `masksweep run` and the controller register a
 * sweep before its first trial starts, so an event of an unregistered sweep is normally a
 * stray or a forgery; still, a registration may land a little after the events (a
 * leaderboard restored from a backup, a registration retried). Such an event is left
 * unacknowledged and comes again after the bus's retry pauses (1 s, 5 s, 15 s, 30 s, ...)
 * until it is `unregisteredGraceMs` old; then it is terminated (JetStream never delivers
 * it again), counted in masksweep_leaderboard_metric_events_refused_total and logged once
 * per sweep. While they wait, such events hold places of the consumer's unacknowledged
 * window, so a flood of them would slow ingest for up to the grace period: NATS
 * permissions (docs/nats-auth.md) keep anyone but a sweep's own trials off its subjects.
 */
import {
  allEventsSubject,
  consumeEvents,
  type EventConsumer,
  type ScreenedMessage,
  type ScreenVerdict,
} from '@masksweep/bus';
import type { Log } from '@masksweep/log';
import type { MetricEvent } from '@masksweep/proto';
import type { NatsConnection } from 'nats';
import { InvalidMetricEventError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { Store } from './store/store.js';

export interface MetricIngestOptions {
  connection: NatsConnection;
  store: Store;
  /** @default 'leaderboard' */
  durable?: string;
  /** How long an unacknowledged batch waits before redelivery. @default 30000 */
  ackWaitMs?: number;
  /** How long after its publication an event waits for its sweep's registration. @default 60000 */
  unregisteredGraceMs?: number;
  /** The pauses before an event of an unregistered sweep comes again. @default the bus's */
  retryDelaysMs?: number[];
  /** Counts refused events when given. */
  metrics?: Metrics;
  log?: Log;
}

/** Sweeps whose refusal was logged, at most; past it the memory starts again. */
const MAX_REMEMBERED_REFUSALS = 10_000;

export function ingestMetrics(options: MetricIngestOptions): Promise<EventConsumer> {
  const { store, metrics, unregisteredGraceMs = 60_000, log = () => {} } = options;
  const sweepKey = ({ address }: ScreenedMessage) => `${address.namespace}/${address.sweep}`;
  // Sweeps are never unregistered: once seen registered, a sweep needs no more look-ups.
  const registered = new Set<string>();
  const refusalsLogged = new Set<string>();
  const screen = (message: ScreenedMessage): ScreenVerdict => {
    const key = sweepKey(message);
    if (registered.has(key)) return 'accept';
    if (store.getSweep(message.address.namespace, message.address.sweep)) {
      registered.add(key);
      return 'accept';
    }
    return Date.now() - message.storedAtMs < unregisteredGraceMs ? 'later' : 'refuse';
  };
  const onRefused = (message: ScreenedMessage) => {
    metrics?.metricEventsRefused.inc({ reason: 'unregistered_sweep' }, message.events);
    const key = sweepKey(message);
    if (refusalsLogged.has(key)) return;
    if (refusalsLogged.size >= MAX_REMEMBERED_REFUSALS) refusalsLogged.clear();
    refusalsLogged.add(key);
    log(
      'warn',
      "refused metric events of a sweep that is not registered; more of this sweep's are only counted",
      {
        namespace: message.address.namespace,
        sweep: message.address.sweep,
        graceMs: unregisteredGraceMs,
      },
    );
  };
  return consumeEvents({
    connection: options.connection,
    durable: options.durable ?? 'leaderboard',
    filterSubject: allEventsSubject('metric'),
    ackWaitMs: options.ackWaitMs,
    retryDelaysMs: options.retryDelaysMs,
    batchSize: 1024,
    screen,
    onRefused,
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
