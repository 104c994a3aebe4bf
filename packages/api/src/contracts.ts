/**
 * Wire contracts between the trial-runner and the parts that read it (the controller, the
 * CLI): how a trial's process exits, and how its metrics are named on the bus.
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
