/**
 * Wire contracts between the trial-runner and the parts that read it (the controller, the
 * leaderboard, the CLI): how a trial's process exits, how its metrics are named on the bus
 * and in results, and what a finished fine-tuning tells the controller.
 */

/**
 * The exit codes of `masksweep-trial`, by the end each means to the controller: a trainer
 * error is retried; an invalid trial (bad command line or trial file) and a divergence are not.
 */
export const TRIAL_EXIT_CODES = {
  Completed: 0,
  TrainerError: 1,
  InvalidTrial: 2,
  Diverged: 3,
} as const;

export type TrialExitReason = keyof typeof TRIAL_EXIT_CODES;

const EXIT_REASONS = new Map<number, TrialExitReason>(
  Object.entries(TRIAL_EXIT_CODES).map(([reason, code]) => [code, reason as TrialExitReason]),
);

/** What an exit code of `masksweep-trial` means; an unknown code is a trainer error. */
export function trialExitReason(code: number): TrialExitReason {
  return EXIT_REASONS.get(code) ?? 'TrainerError';
}

/** A metric's name on the bus and in results: snake case (`macroF1` is `macro_f1`). */
export function metricName(metric: string): string {
  return metric.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const VALIDATION_PREFIX = 'val_';

/** The name of a metric measured at validation: `val_` and its snake-case name (`val_macro_f1`). */
export function validationMetricName(metric: string): string {
  return `${VALIDATION_PREFIX}${metricName(metric)}`;
}

/**
 * The metric a validation name stands for (`val_macro_f1` -> `macro_f1`), undefined for a
 * name without `val_` (a test metric's).
 */
export function validatedMetricOf(name: string): string | undefined {
  return name.startsWith(VALIDATION_PREFIX) ? name.slice(VALIDATION_PREFIX.length) : undefined;
}

/**
 * What a finished fine-tuning writes as its termination message, which the controller reads
 * as the trial's figures: its validation metrics at the end of fine-tuning, by their wire
 * names (`f1`, `macro_f1`). Test metrics are left out: no choice may read them, and the
 * leaderboard has them from ReportResult. Some 200 bytes, within the 4096 the kubelet keeps.
 */
export interface FinetuneTermination {
  valMetrics: Record<string, number>;
}

export function finetuneTerminationMessage(valMetrics: Record<string, number>): string {
  return JSON.stringify({ valMetrics } satisfies FinetuneTermination);
}

/**
 * The validation metrics of a finished fine-tuning's termination message; undefined for
 * anything else (an error line, or the test metrics an older trial-runner wrote), so that
 * such a trial has no objective rather than a test one.
 */
export function parseFinetuneTermination(message: string): Record<string, number> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  const valMetrics = (parsed as Partial<FinetuneTermination> | null)?.valMetrics;
  if (typeof valMetrics !== 'object' || valMetrics === null) return undefined;
  return Object.fromEntries(
    Object.entries(valMetrics).filter(([, value]) => typeof value === 'number'),
  );
}
