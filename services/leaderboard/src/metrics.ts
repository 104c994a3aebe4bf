/**
 * The leaderboard's own Prometheus metrics. One registry per instance (not prom-client's
 * global one), so several leaderboards in one test process do not collide. The store counts
 * writes, the web server requests and SSE clients; the gRPC server can use the same object.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly resultsStored = new Counter({
    name: 'masksweep_leaderboard_results_stored_total',
    help: 'Trial results stored (first attempts and superseding attempts).',
    registers: [this.registry],
  });
  readonly resultsIgnored = new Counter({
    name: 'masksweep_leaderboard_results_ignored_total',
    help: 'Reported results not stored: a duplicate of the stored attempt, an earlier one, a conflict with the stored attempt or a seed stored under another trial.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly metricPointsStored = new Counter({
    name: 'masksweep_leaderboard_metric_points_stored_total',
    help: 'Metric curve points stored.',
    registers: [this.registry],
  });
  readonly metricPointsDuplicate = new Counter({
    name: 'masksweep_leaderboard_metric_points_duplicate_total',
    help: 'Metric curve points received again and ignored.',
    registers: [this.registry],
  });
  readonly metricEventsRefused = new Counter({
    name: 'masksweep_leaderboard_metric_events_refused_total',
    help: 'Metric events not stored and never delivered again, by reason (unregistered_sweep: their sweep was not registered within the grace period).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'masksweep_leaderboard_request_duration_seconds',
    help: 'Time to answer a request, by transport (http, grpc), route and status.',
    labelNames: ['transport', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly sseClients = new Gauge({
    name: 'masksweep_leaderboard_sse_clients',
    help: 'Browsers connected for live updates.',
    registers: [this.registry],
  });

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
