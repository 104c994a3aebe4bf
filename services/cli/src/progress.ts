/**
 * The live block `masksweep run` redraws on a terminal: a line for the sweep and a bar per
 * running workload. Steps, losses and validations come from the metric events the trials
 * publish to NATS, as the in-process leaderboard stores them; before the first event (or
 * without NATS) a workload shows its stage and how long it has run. `renderProgress` is
 * pure (state and width in, lines out), `ProgressBoard` follows the workloads, and
 * `startLiveProgress` redraws the block in place.
 */

import { type PretrainedTrial, validationMetricName } from '@masksweep/api';
import {
  countSweep,
  type SweepCounts,
  type SweepState,
  type Workload,
} from '@masksweep/controller';
import type { MetricPoint, StoreChange } from '@masksweep/leaderboard';
import { MetricKind, Stage } from '@masksweep/proto';

export interface WorkloadProgress {
  stage: 'pretrain' | 'finetune';
  /** The trial's name, or the pre-training key. */
  label: string;
  attempt: number;
  startedAt: number;
  /** Epochs of the stage, from the trial's budget. */
  epochs: number;
  /** Steps of the stage, when known: from the Sweep, or from the first validation. */
  totalSteps?: number;
  /** Steps done as of the latest metric event, and its epoch (from 0). */
  steps?: number;
  epoch?: number;
  loss?: number;
  validation?: { name: string; value: number };
  /** When the first and the latest steps were seen: the pace behind the ETA. */
  pace?: { firstSteps: number; firstAt: number; lastAt: number };
}

export interface SweepProgress {
  name: string;
  phase: string;
  counts: SweepCounts;
  startedAt: number;
  url: string;
  workloads: readonly WorkloadProgress[];
}

export interface RenderOptions {
  /** Columns of the terminal: no line is longer. */
  width: number;
  /** Rows the block may take at most (workloads beyond are counted on the last line). */
  height?: number;
  now: number;
  /** ANSI colours (off for NO_COLOR). */
  color?: boolean;
}

const BAR_WIDTH = 20;

type Style = 'green' | 'red' | 'yellow' | 'dim';
const STYLES: Record<Style, [string, string]> = {
  green: ['\x1b[32m', '\x1b[39m'],
  red: ['\x1b[31m', '\x1b[39m'],
  yellow: ['\x1b[33m', '\x1b[39m'],
  dim: ['\x1b[2m', '\x1b[22m'],
};
/** A piece of a line: its text, and how to colour it. */
type Segment = string | [Style | undefined, string];

/** The block: the sweep's line, then one line per workload. */
export function renderProgress(progress: SweepProgress, options: RenderOptions): string[] {
  const { counts } = progress;
  const failed = counts.failed + counts.diverged;
  const sweep: Segment[] = [
    `${progress.name} `,
    [phaseStyle(progress.phase), progress.phase],
    ' · trials ',
    [counts.succeeded ? 'green' : undefined, `${counts.succeeded} succeeded`],
    ', ',
    [failed ? 'red' : undefined, `${failed} failed`],
    ', ',
    [counts.pruned ? 'yellow' : undefined, `${counts.pruned} pruned`],
    // A sweep of scratch trials alone has no pre-training to count.
    ` of ${counts.planned}${counts.pretrainings.total > 0 ? ` · pre-training ${counts.pretrainings.succeeded}/${counts.pretrainings.total}` : ''} · ${duration(options.now - progress.startedAt)} · ${progress.url}`,
  ];
  let shown = progress.workloads;
  let hidden: Segment[] | undefined;
  if (options.height !== undefined && 1 + shown.length > options.height) {
    const room = Math.max(0, options.height - 2);
    hidden = [['dim', `  … ${shown.length - room} more running`]];
    shown = shown.slice(0, room);
  }
  const labelWidth = Math.max(0, ...shown.map((w) => w.label.length));
  const lines = [sweep, ...shown.map((w) => workloadLine(w, labelWidth, options.now))];
  if (hidden) lines.push(hidden);
  return lines.map((line) => paint(truncate(line, options.width), options.color ?? false));
}

function workloadLine(w: WorkloadProgress, labelWidth: number, now: number): Segment[] {
  const line: Segment[] = [`  ${w.stage}  ${w.label.padEnd(labelWidth)}  #${w.attempt}  `];
  const figures: Segment[] = [];
  if (w.loss !== undefined) figures.push(`loss ${w.loss.toFixed(4)}`);
  if (w.validation) figures.push(`${w.validation.name} ${w.validation.value.toFixed(4)}`);
  const eta = w.steps !== undefined && w.totalSteps ? etaMs(w, w.totalSteps, now) : undefined;
  figures.push(
    eta === undefined ? `elapsed ${duration(now - w.startedAt)}` : `ETA ${duration(eta)}`,
  );
  const joined = figures.flatMap((figure, i) => (i ? ['  ', figure] : [figure]));
  if (w.steps === undefined) return [...line, ...joined];
  if (w.totalSteps) {
    const done = Math.min(w.steps, w.totalSteps);
    const filled = Math.round((BAR_WIDTH * done) / w.totalSteps);
    const percent = Math.floor((100 * done) / w.totalSteps);
    line.push(
      '[',
      ['green', '#'.repeat(filled)],
      ['dim', '.'.repeat(BAR_WIDTH - filled)],
      `] ${String(percent).padStart(3)}%  ${done}/${w.totalSteps}  `,
    );
  } else {
    line.push(`step ${w.steps}  epoch ${(w.epoch ?? 0) + 1}/${w.epochs}  `);
  }
  return [...line, ...joined];
}

/** Time left at the pace since the first step seen; none before a second one. */
function etaMs(w: WorkloadProgress, totalSteps: number, now: number): number | undefined {
  if (!w.pace || w.steps === undefined || w.pace.lastAt <= w.pace.firstAt) return undefined;
  const perStep = (w.pace.lastAt - w.pace.firstAt) / (w.steps - w.pace.firstSteps);
  return Math.max(0, (totalSteps - w.steps) * perStep - (now - w.pace.lastAt));
}

function phaseStyle(phase: string): Style | undefined {
  if (phase === 'Succeeded') return 'green';
  return phase === 'Failed' ? 'red' : undefined;
}

/** `mm:ss` (minutes beyond 59 as they are). */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

/** The segments cut to `width` characters, the last one shown being '…' when cut. */
function truncate(line: Segment[], width: number): Segment[] {
  const length = line.reduce((sum, s) => sum + text(s).length, 0);
  if (length <= width) return line;
  const cut: Segment[] = [];
  let room = Math.max(0, width - 1);
  for (const segment of line) {
    if (room === 0) break;
    const part = text(segment).slice(0, room);
    cut.push(typeof segment === 'string' ? part : [segment[0], part]);
    room -= part.length;
  }
  return width > 0 ? [...cut, '…'] : [];
}

function text(segment: Segment): string {
  return typeof segment === 'string' ? segment : segment[1];
}

function paint(line: Segment[], color: boolean): string {
  return line
    .map((segment) => {
      if (typeof segment === 'string') return segment;
      const [style, part] = segment;
      return color && style && part ? `${STYLES[style][0]}${part}${STYLES[style][1]}` : part;
    })
    .join('');
}

/**
 * The running workloads and what their metric points say. Points are matched to a workload
 * by stage, trial and attempt (a pre-training publishes under the trial whose config it runs).
 */
export class ProgressBoard {
  readonly #workloads = new Map<string, WorkloadProgress>();
  /** The validation point shown: the Sweep's objective (`val_f1`, `val_macro_f1`, ...). */
  readonly #validation: string;

  constructor(objectiveMetric: string) {
    this.#validation = validationMetricName(objectiveMetric);
  }

  get workloads(): WorkloadProgress[] {
    return [...this.#workloads.values()];
  }

  started(workload: Workload, now: number): void {
    const { stage, trial, attempt } = workload;
    const pretraining = workload.stage === 'pretrain' ? workload.trial : undefined;
    this.#workloads.set(key(stage, trial.name, attempt), {
      stage,
      label: pretraining ? pretraining.pretrainKey : trial.name,
      attempt,
      startedAt: now,
      epochs: (pretraining?.config.pretrain ?? trial.config.finetune).epochs,
      totalSteps: pretraining ? pretrainingSteps(pretraining) : undefined,
    });
  }

  ended(workload: Workload): void {
    this.#workloads.delete(key(workload.stage, workload.trial.name, workload.attempt));
  }

  observe(points: readonly MetricPoint[]): void {
    for (const point of points) {
      const stage = point.stage === Stage.STAGE_PRETRAIN ? 'pretrain' : 'finetune';
      const w = this.#workloads.get(key(stage, point.trial, point.attempt));
      if (!w) continue;
      const validation = point.kind === MetricKind.METRIC_KIND_VALIDATION;
      // A training event's step counts from 0; a validation's is the steps done by then.
      const steps = validation ? point.step : point.step + 1;
      if (validation) {
        // Validations come at the end of each epoch: the steps of one give the total.
        w.totalSteps ??= (w.epochs * point.step) / (point.epoch + 1);
        if (point.name === this.#validation)
          w.validation = { name: point.name, value: point.value };
      } else if (point.name === 'loss') {
        w.loss = point.value;
      }
      if (w.steps === undefined || steps > w.steps) {
        w.steps = steps;
        w.epoch = point.epoch;
        w.pace = w.pace
          ? { ...w.pace, lastAt: point.wallTimeMs }
          : { firstSteps: steps, firstAt: point.wallTimeMs, lastAt: point.wallTimeMs };
      }
    }
  }
}

function key(stage: string, trial: string, attempt: number): string {
  return `${stage}/${trial}/${attempt}`;
}

/**
 * A pre-training's steps when the Sweep says how many images it has (phantoms): whole
 * batches per epoch, at least one, as packages/train plans the stage.
 */
function pretrainingSteps(trial: PretrainedTrial): number | undefined {
  const count = trial.config.data.pretrain.phantom?.count;
  const { epochs, batchSize } = trial.config.pretrain;
  return count === undefined ? undefined : epochs * Math.max(1, Math.floor(count / batchSize));
}

/** What startLiveProgress reads: the in-process leaderboard's store. */
export interface PointSource {
  subscribe(listener: (change: StoreChange) => void): () => void;
  sweepPointsSince(options: { namespace: string; sweep: string; sinceId: number }): MetricPoint[];
  lastPointId(): number;
}

export interface LiveProgressOptions {
  /** A terminal. */
  out: NodeJS.WriteStream;
  /** The sweep's state, which the controller updates in place. */
  state: SweepState;
  namespace: string;
  points: PointSource;
  /** The sweep's page in the web view. */
  url: string;
}

export interface LiveProgress {
  /** Writes a line above the block. */
  print(line: string): void;
  started(workload: Workload): void;
  ended(workload: Workload): void;
  /** Removes the block; output goes on below where it was. */
  stop(): void;
}

/** Redraws of the block per second at most. */
const REDRAWS_PER_SECOND = 4;

/**
 * Draws the block on `out` and redraws it in place (cursor up over it, each line cleared
 * and written again) when it changed, from the state and the points stored since now.
 */
export function startLiveProgress(options: LiveProgressOptions): LiveProgress {
  const { out, state, namespace, points, url } = options;
  const sweep = state.sweep.metadata.name;
  const board = new ProgressBoard(state.sweep.spec.objective.metric);
  // hasColors() says no for NO_COLOR (and for TERM=dumb).
  const color = out.hasColors();
  let cursor = points.lastPointId();
  let pointsWaiting = false;
  const unsubscribe = points.subscribe((change) => {
    if (
      change.type === 'metrics' &&
      change.sweeps.some((s) => s.namespace === namespace && s.sweep === sweep)
    )
      pointsWaiting = true;
  });
  let drawn: string[] = [];
  const up = () => (drawn.length ? `\x1b[${drawn.length}A\r` : '');
  // A printed line may wrap: the old block goes first (clear to the end of the screen).
  const draw = (lines: string[], above?: string) => {
    const printed = above === undefined ? '' : `\x1b[J${above}\n`;
    out.write(`${up()}${printed}${lines.map((line) => `\x1b[2K${line}\n`).join('')}\x1b[J`);
    drawn = lines;
  };
  const render = () => {
    while (pointsWaiting) {
      const next = points.sweepPointsSince({ namespace, sweep, sinceId: cursor });
      board.observe(next);
      cursor = next.at(-1)?.id ?? cursor;
      pointsWaiting = next.length > 0;
    }
    return renderProgress(
      {
        name: sweep,
        phase: state.phase,
        counts: countSweep(state),
        startedAt: state.startedAt,
        url,
        workloads: board.workloads,
      },
      // One row fewer than the screen: the cursor rests on the row below the block.
      {
        width: out.columns || 80,
        height: out.rows ? out.rows - 1 : undefined,
        now: Date.now(),
        color,
      },
    );
  };
  const redraw = () => {
    const lines = render();
    if (lines.join('\n') !== drawn.join('\n')) draw(lines);
  };
  const timer = setInterval(redraw, 1000 / REDRAWS_PER_SECOND);
  timer.unref();
  redraw();
  return {
    print: (line) => draw(drawn, line),
    started: (workload) => board.started(workload, Date.now()),
    ended: (workload) => board.ended(workload),
    stop() {
      clearInterval(timer);
      unsubscribe();
      out.write(`${up()}\x1b[J`);
      drawn = [];
    },
  };
}
