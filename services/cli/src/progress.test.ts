import { stripVTControlCharacters } from 'node:util';
import { expandSweep, validateSweep } from '@masksweep/api';
import { pretrainedTrial } from '@masksweep/api/test-support';
import { countSweep, initialState, workload as named, type Workload } from '@masksweep/controller';
import type { MetricPoint, StoreChange } from '@masksweep/leaderboard';
import { MetricKind, Stage } from '@masksweep/proto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ProgressBoard,
  renderProgress,
  type SweepProgress,
  startLiveProgress,
  type WorkloadProgress,
} from './progress.js';

/** 96 pre-training phantoms in batches of 8 for 3 epochs: 36 steps. */
const SWEEP = validateSweep({
  apiVersion: 'masksweep.io/v1alpha1',
  kind: 'Sweep',
  metadata: { name: 'quick' },
  spec: {
    datasets: {
      pretrain: { phantom: { count: 96 } },
      downstream: { phantom: { count: 96 } },
      imageSize: 64,
    },
    grids: [{ methods: ['spark'], masks: [{ type: 'mesh', ratios: [0.5, 0.7] }] }],
    budgets: {
      pretrain: { epochs: 3, batchSize: 8 },
      finetune: { epochs: 3, batchSize: 8 },
    },
  },
});
const [TRIAL, OTHER] = expandSweep(SWEEP).map(pretrainedTrial) as [
  ReturnType<typeof pretrainedTrial>,
  ReturnType<typeof pretrainedTrial>,
];
const URL = 'http://127.0.0.1:8080/sweeps/default/quick';
/** Terminal output with its escape character spelled out, for readable expectations. */
const spelled = (text: string) => text.replaceAll('\x1b', 'ESC');

function workload(stage: 'pretrain' | 'finetune', trial = TRIAL, attempt = 1): Workload {
  // One call per stage: the overloads take one stage each.
  return stage === 'pretrain'
    ? named('pretrain', trial, attempt)
    : named('finetune', trial, attempt);
}

let nextId = 1;
function point(
  w: Workload,
  fields: Partial<MetricPoint> & Pick<MetricPoint, 'step' | 'name' | 'value'>,
): MetricPoint {
  return {
    id: nextId++,
    sweep: 'quick',
    trial: w.trial.name,
    attempt: w.attempt,
    stage: w.stage === 'pretrain' ? Stage.STAGE_PRETRAIN : Stage.STAGE_FINETUNE,
    kind: MetricKind.METRIC_KIND_TRAIN,
    epoch: 0,
    wallTimeMs: 0,
    ...fields,
  };
}

function progress(workloads: WorkloadProgress[]): SweepProgress {
  const state = initialState(SWEEP, '.');
  state.phase = 'Running';
  return {
    name: 'quick',
    phase: state.phase,
    counts: countSweep(state),
    startedAt: 0,
    url: URL,
    workloads,
  };
}

const pretraining: WorkloadProgress = {
  stage: 'pretrain',
  label: TRIAL.pretrainKey,
  attempt: 1,
  startedAt: 0,
  epochs: 3,
  totalSteps: 36,
  steps: 18,
  epoch: 1,
  loss: 0.12345,
  pace: { firstSteps: 1, firstAt: 10_000, lastAt: 27_000 },
};

describe('renderProgress', () => {
  it('shows the sweep: phase, trials by outcome, pre-training runs, elapsed time, the web view', () => {
    const [sweep] = renderProgress(progress([]), { width: 200, now: 83_000 });
    expect(sweep).toBe(
      `quick Running · trials 0 succeeded, 0 failed, 0 pruned of 2 · pre-training 0/2 · 01:23 · ${URL}`,
    );
  });

  it('counts no pre-training for a sweep of scratch trials alone', () => {
    const scratch = validateSweep({
      ...structuredClone(SWEEP),
      spec: { ...structuredClone(SWEEP.spec), grids: [{ methods: ['scratch'] }] },
    });
    const state = initialState(scratch, '.');
    const [line] = renderProgress(
      { ...progress([]), counts: countSweep(state) },
      { width: 200, now: 83_000 },
    );
    expect(line).toBe(
      `quick Running · trials 0 succeeded, 0 failed, 0 pruned of 1 · 01:23 · ${URL}`,
    );
  });

  it('draws a bar of the steps done with the percentage, the loss and the time left at the pace so far', () => {
    const lines = renderProgress(progress([pretraining]), { width: 200, now: 27_000 });
    // 17 steps in 17 s: 18 more take 18 s.
    expect(lines[1]).toBe(
      `  pretrain  ${TRIAL.pretrainKey}  #1  [##########..........]  50%  18/36  loss 0.1235  ETA 00:18`,
    );
  });

  it('shows the step and the epoch, without a bar, while the total is unknown', () => {
    const finetuning: WorkloadProgress = {
      stage: 'finetune',
      label: TRIAL.name,
      attempt: 2,
      startedAt: 5_000,
      epochs: 3,
      steps: 11,
      epoch: 1,
      loss: 0.5,
    };
    const [, line] = renderProgress(progress([finetuning]), { width: 200, now: 40_000 });
    expect(line).toBe(
      `  finetune  ${TRIAL.name}  #2  step 11  epoch 2/3  loss 0.5000  elapsed 00:35`,
    );
  });

  it('shows the stage and the elapsed time before any metric event (or without NATS)', () => {
    const waiting: WorkloadProgress = { ...pretraining, steps: undefined, loss: undefined };
    const [, line] = renderProgress(progress([waiting]), { width: 200, now: 65_000 });
    expect(line).toBe(`  pretrain  ${TRIAL.pretrainKey}  #1  elapsed 01:05`);
  });

  it('cuts every line to the width, colours included, and marks the cut', () => {
    for (const color of [false, true]) {
      const lines = renderProgress(progress([pretraining]), { width: 40, now: 27_000, color });
      for (const line of lines) {
        const visible = stripVTControlCharacters(line);
        expect(visible).toHaveLength(40);
        expect(visible.endsWith('…')).toBe(true);
      }
    }
    const [sweep] = renderProgress(progress([]), { width: 10, now: 0 });
    expect(sweep).toBe('quick Run…');
  });

  it('colours only when asked (NO_COLOR turns it off)', () => {
    const plain = renderProgress(progress([pretraining]), { width: 200, now: 27_000 });
    const coloured = renderProgress(progress([pretraining]), {
      width: 200,
      now: 27_000,
      color: true,
    });
    expect(plain.join('\n')).not.toContain('\x1b');
    expect(spelled(coloured[1] ?? '')).toContain('ESC[32m##########ESC[39m');
    expect(coloured.map(stripVTControlCharacters)).toEqual(plain);
  });

  it('keeps to the rows it has, counting the workloads it leaves out', () => {
    const many = Array.from({ length: 5 }, (_, i) => ({ ...pretraining, label: `pt-${i}` }));
    const lines = renderProgress(progress(many), { width: 200, height: 4, now: 27_000 });
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain('pt-1');
    expect(lines[3]).toBe('  … 3 more running');
  });
});

describe('ProgressBoard', () => {
  const render = (board: ProgressBoard, now = 0) =>
    renderProgress(progress(board.workloads), { width: 200, now }).slice(1);

  it('knows the steps of a pre-training on phantoms from the Sweep', () => {
    const board = new ProgressBoard('f1');
    const w = workload('pretrain');
    board.started(w, 0);
    board.observe([point(w, { step: 9, name: 'loss', value: 0.25, wallTimeMs: 1000 })]);
    expect(render(board)).toEqual([
      `  pretrain  ${TRIAL.pretrainKey}  #1  [######..............]  27%  10/36  loss 0.2500  elapsed 00:00`,
    ]);
  });

  it("learns a fine-tuning's steps from its first validation and shows the objective's value", () => {
    const board = new ProgressBoard('macroF1');
    const w = workload('finetune');
    board.started(w, 0);
    board.observe([point(w, { step: 0, name: 'loss', value: 0.9 })]);
    expect(render(board)[0]).toContain('step 1  epoch 1/3');
    board.observe([
      point(w, {
        kind: MetricKind.METRIC_KIND_VALIDATION,
        step: 7,
        name: 'val_f1',
        value: 0.5,
      }),
      point(w, {
        kind: MetricKind.METRIC_KIND_VALIDATION,
        step: 7,
        name: 'val_macro_f1',
        value: 0.75,
      }),
    ]);
    expect(render(board)[0]).toMatch(/\] {2}33% {2}7\/21 {2}loss 0\.9000 {2}val_macro_f1 0\.7500/);
  });

  it('takes only the points of a running workload: stage, trial and attempt', () => {
    const board = new ProgressBoard('f1');
    const w = workload('finetune', TRIAL, 2);
    board.started(w, 0);
    board.observe([
      point(workload('finetune', TRIAL, 1), { step: 20, name: 'loss', value: 1 }),
      point(workload('pretrain', TRIAL, 2), { step: 20, name: 'loss', value: 1 }),
      point(workload('finetune', OTHER, 2), { step: 20, name: 'loss', value: 1 }),
    ]);
    expect(render(board, 3000)).toEqual([`  finetune  ${TRIAL.name}  #2  elapsed 00:03`]);
  });

  it('drops a workload that ended', () => {
    const board = new ProgressBoard('f1');
    board.started(workload('pretrain'), 0);
    board.started(workload('pretrain', OTHER), 0);
    board.ended(workload('pretrain'));
    const lines = render(board);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(OTHER.pretrainKey);
  });
});

describe('startLiveProgress', () => {
  afterEach(() => vi.useRealTimers());

  it('redraws the block in place when points come, prints lines above it and removes it at the end', () => {
    vi.useFakeTimers({ now: 0 });
    let written = '';
    const out = {
      columns: 200,
      rows: 30,
      hasColors: () => false,
      write: (text: string) => {
        written += spelled(text);
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const stored: MetricPoint[] = [];
    let listener: ((change: StoreChange) => void) | undefined;
    const state = initialState(SWEEP, '.');
    state.phase = 'Running';
    const live = startLiveProgress({
      out,
      state,
      namespace: 'default',
      url: URL,
      points: {
        subscribe: (l) => {
          listener = l;
          return () => {
            listener = undefined;
          };
        },
        sweepPointsSince: ({ sinceId }) => stored.filter((p) => p.id > sinceId),
        lastPointId: () => stored.at(-1)?.id ?? 0,
      },
    });
    expect(written).toBe(
      `ESC[2Kquick Running · trials 0 succeeded, 0 failed, 0 pruned of 2 · pre-training 0/2 · 00:00 · ${URL}\nESC[J`,
    );

    const w = workload('pretrain');
    live.started(w);
    written = '';
    vi.advanceTimersByTime(250);
    // Up over the one line drawn, then the sweep's line and the workload's.
    expect(written).toMatch(
      /^ESC\[1A\rESC\[2Kquick .*\nESC\[2K {2}pretrain .* elapsed 00:00\nESC\[J$/,
    );

    stored.push(point(w, { step: 17, name: 'loss', value: 0.5 }));
    listener?.({
      type: 'metrics',
      sweeps: [{ namespace: 'default', sweep: 'quick' }],
      lastPointId: 1,
    });
    written = '';
    vi.advanceTimersByTime(250);
    expect(written).toMatch(/^ESC\[2A\rESC\[2Kquick .*\nESC\[2K {2}pretrain .* 18\/36 .*\nESC\[J$/);

    // Nothing changed on screen (still 00:01): nothing is written.
    written = '';
    vi.advanceTimersByTime(250);
    expect(written).toBe('');

    live.print('[00:01] started fine-tuning');
    expect(written).toMatch(/^ESC\[2A\rESC\[J\[00:01\] started fine-tuning\nESC\[2Kquick /);

    written = '';
    live.stop();
    expect(written).toBe('ESC[2A\rESC[J');
    expect(listener).toBeUndefined();
    vi.advanceTimersByTime(1000);
    expect(written).toBe('ESC[2A\rESC[J');
  });
});
