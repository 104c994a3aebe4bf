/** The tests' driver of the pure reconcile: workloads end when the test says. */
import { type Observation, reconcile, type Workload, type WorkloadEnd } from './reconcile.js';
import type { EndReason, PrunedAt, SweepState } from './state.js';

/** Drives reconcile like the controller: workloads end when the test says. */
export class World {
  running = new Map<string, Workload>();
  ended: WorkloadEnd[] = [];
  stored = new Set<string>();
  pruned = new Map<string, PrunedAt>();
  /** What each trial reports when it finishes, both splits (seed / 10 on both otherwise). */
  results = new Map<
    string,
    { valMetrics: Record<string, number>; metrics: Record<string, number> }
  >();
  now = 0;
  started: Workload[] = [];
  constructor(readonly state: SweepState) {}

  pass() {
    const observation: Observation = {
      running: new Set(this.running.keys()),
      ended: this.ended.splice(0),
      pretrained: (key) => this.stored.has(key),
      // As the drivers do: the validation metrics of the result, never its test metrics.
      validationMetricsOf: (trial) =>
        this.results.get(trial.name)?.valMetrics ?? { f1: trial.seed / 10 },
      pruned: this.pruned,
      now: this.now,
    };
    const actions = reconcile(this.state, observation, { retryBackoffMs: 1000 });
    for (const w of actions.start) this.running.set(w.name, w);
    for (const name of actions.stop) this.running.delete(name);
    this.started.push(...actions.start);
    return actions;
  }

  end(name: string, reason: EndReason = 'Completed') {
    const workload = this.running.get(name);
    if (!workload) throw new Error(`${name} is not running`);
    this.running.delete(name);
    if (reason === 'Completed' && workload.stage === 'pretrain')
      this.stored.add(workload.trial.pretrainKey);
    this.ended.push({ workload, reason, message: `${reason} in the test` });
  }

  /** Ends every running workload as given, until nothing runs. */
  drain(reason: (w: Workload) => EndReason = () => 'Completed') {
    for (let i = 0; i < 100 && (this.pass(), this.running.size > 0); i++) {
      for (const w of [...this.running.values()]) this.end(w.name, reason(w));
      this.now += 60_000;
    }
    this.pass();
  }
}
