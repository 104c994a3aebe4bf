/** The controller's Prometheus metrics, in a registry of its own (several in one test process). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ReconcilePass } from './controller.js';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'masksweep_controller_reconciles_total',
    help: 'Sweep reconcile passes, by result (ok, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'masksweep_controller_reconcile_duration_seconds',
    help: 'Time of one Sweep reconcile pass, API writes included.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly jobsCreated = new Counter({
    name: 'masksweep_controller_jobs_created_total',
    help: 'Jobs created (one per stage attempt).',
    registers: [this.registry],
  });
  readonly jobsDeleted = new Counter({
    name: 'masksweep_controller_jobs_deleted_total',
    help: 'Jobs deleted: a failed sweep, a pruned trial, a superseded attempt.',
    registers: [this.registry],
  });
  readonly trialsCreated = new Counter({
    name: 'masksweep_controller_trials_created_total',
    help: 'Trial resources created.',
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'masksweep_controller_trial_status_writes_total',
    help: 'Trial status updates written.',
    registers: [this.registry],
  });
  readonly workloadsEnded = new Counter({
    name: 'masksweep_controller_workloads_ended_total',
    help: 'Stage attempts that ended, by reason (Completed, TrainerError, Interrupted, ...).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'masksweep_controller_leader',
    help: '1 while this replica leads (reconciles), else 0.',
    registers: [this.registry],
  });

  constructor() {
    // The process's own figures (memory, heap, CPU, GC, event loop lag), as Node services show.
    collectDefaultMetrics({ register: this.registry });
  }

  observe(pass: ReconcilePass): void {
    this.reconciles.inc({ result: 'ok' });
    this.reconcileDuration.observe(pass.durationMs / 1000);
    this.jobsCreated.inc(pass.jobsCreated);
    this.jobsDeleted.inc(pass.jobsDeleted);
    this.trialsCreated.inc(pass.trialsCreated);
    this.statusWrites.inc(pass.statusWrites);
  }
}
