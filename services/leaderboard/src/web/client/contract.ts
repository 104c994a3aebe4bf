/**
 * What the server hands the pages' script (live.js): the boot data, as JSON in
 * <script type="application/json" id="boot">, and the events of a sweep's live updates.
 * pages.ts and sweep-events.ts write these; live.js reads them.
 */

/** A curve chart: the points of one stage and kind, optionally only some metric names. */
export interface ChartSpec {
  id: string;
  title: string;
  /** A Stage of @masksweep/proto. */
  stage: number;
  /** A MetricKind of @masksweep/proto. */
  kind: number;
  names?: string[];
}

/** A metric point: [id, trial, attempt, stage, kind, name, step, value]; null for NaN. */
export type WirePoint = [number, string, number, number, number, string, number, number | null];

export interface Boot {
  /** The sweep's live updates (Server-Sent Events); absent on pages without them. */
  eventsUrl?: string;
  charts: ChartSpec[];
  /** The points the page starts with. */
  points: WirePoint[];
  /** Curves are kept for this many trials, the most recently active ones. */
  maxCurveTrials: number;
  /** Rows of the latest-results table. */
  recentLimit?: number;
  /** The curves' colours in order; the legend's swatches have the same (layout.ts). */
  colors: string[];
}

/** Event `config`: a config's ranked row, new or updated, rendered and escaped by the server. */
export interface ConfigUpdate {
  configKey: string;
  html: string;
}

/** Event `reference`: the rows of the trivial classifiers under the ranking, rendered. */
export interface ReferenceUpdate {
  html: string;
}

/** Event `result`: a row of the latest-results table and the sweep's result count. */
export interface ResultUpdate {
  html: string;
  resultCount: number;
}

/** Event `points`: new metric points, oldest first. */
export type PointsUpdate = WirePoint[];
