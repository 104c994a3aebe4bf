/**
 * A sweep on this machine: the state of record in `<workDir>/state.json` (written after
 * every pass, atomically, so a new `masksweep run` resumes where this one stopped), the
 * reconcile pass on every workload end and every second, the local executor for workloads.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, type SweepResource } from '@masksweep/api';
import type { LocalExecutor } from './local-executor.js';
import { PruningStreams } from './pruning.js';
import {
  initialState,
  reconcile,
  resumedState,
  type Workload,
  type WorkloadEnd,
} from './reconcile.js';
import type { PrunedAt, SweepState } from './state.js';

export interface LocalSweepOptions {
  sweep: SweepResource;
  baseDir: string;
  workDir: string;
  executor: LocalExecutor;
  /** Called after every pass, and for each workload started and ended. */
  onPass?: (state: SweepState) => void;
  onStart?: (workload: Workload) => void;
  onEnd?: (end: WorkloadEnd) => void;
  /** Ends the sweep early (Ctrl-C): running workloads are stopped, the state kept. */
  signal?: AbortSignal;
  /** @default 10000 */
  retryBackoffMs?: number;
  /** The NATS the trials publish to: the pruner reads their validations there. */
  natsUrl?: string;
  /** Said when the pruner stops a trial. */
  onPrune?: (trial: string, step: number) => void;
}

export class StateMismatchError extends Error {
  override readonly name = 'StateMismatchError';
}

/** The saved state of this sweep, resumed; a new one if there is none. */
export function loadState(workDir: string, sweep: SweepResource, baseDir: string): SweepState {
  const file = join(workDir, 'state.json');
  if (!existsSync(file)) return initialState(sweep, baseDir);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SweepState;
  if (canonicalJson(saved.sweep) !== canonicalJson(sweep)) {
    throw new StateMismatchError(
      `${file} belongs to another version of Sweep ${saved.sweep.metadata.name}: give another --work-dir, or remove it to start over`,
    );
  }
  return resumedState(saved);
}

export function saveState(workDir: string, state: SweepState): void {
  mkdirSync(workDir, { recursive: true });
  const file = join(workDir, 'state.json');
  writeFileSync(`${file}.partial`, `${JSON.stringify(state)}\n`);
  renameSync(`${file}.partial`, file);
}

export async function runLocalSweep(
  state: SweepState,
  options: LocalSweepOptions,
): Promise<SweepState> {
  const { executor, workDir } = options;
  let wake: () => void = () => {};
  const changed = () => wake();
  options.signal?.addEventListener('abort', changed);
  /** Trial -> where the pruner stopped it; the reconcile stops its workload. */
  const pruned = new Map<string, PrunedAt>();
  /** Workloads the reconcile ended as Pruned: their exit says nothing more. */
  const prunedWorkloads = new Set<string>();
  const streams = new PruningStreams(options.natsUrl);
  const pruning = await streams.watch(
    state.sweep,
    () => state,
    (trial, at) => {
      if (pruned.has(trial)) return;
      pruned.set(trial, at);
      changed();
    },
  );
  try {
    for (;;) {
      if (options.signal?.aborted) {
        // The state keeps them as running: the next run starts them again as the same attempt.
        await executor.stopAll();
        executor.takeEnded();
        saveState(workDir, state);
        return state;
      }
      const ended = executor
        .takeEnded()
        .filter((end) => !prunedWorkloads.delete(end.workload.name));
      for (const end of ended) options.onEnd?.(end);
      const actions = reconcile(
        state,
        {
          running: executor.running(),
          ended,
          pretrained: (key) => executor.pretrained(key),
          validationMetricsOf: (trial) => executor.validationMetricsOf(trial),
          pruned,
          now: Date.now(),
        },
        { retryBackoffMs: options.retryBackoffMs },
      );
      for (const end of actions.pruned) {
        prunedWorkloads.add(end.workload.name);
        options.onPrune?.(end.workload.trial.name, pruned.get(end.workload.trial.name)?.step ?? 0);
        options.onEnd?.(end);
      }
      await Promise.all(actions.stop.map((name) => executor.stop(name)));
      for (const workload of actions.start) {
        executor.start(workload);
        options.onStart?.(workload);
      }
      saveState(workDir, state);
      options.onPass?.(state);
      const done = state.phase === 'Succeeded' || state.phase === 'Failed';
      if (done && executor.running().size === 0) return state;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    options.signal?.removeEventListener('abort', changed);
    await pruning?.stop();
    await streams.close();
  }
}
