/** One thing wrong with a Sweep: the field (`spec.grids[0].masks[1].type`) and why. */
export interface SweepProblem {
  path: string;
  message: string;
  /** 1-based position in the source file, when the Sweep came from YAML. */
  line?: number;
  column?: number;
}

/** A Sweep that cannot run; the message lists every problem with its field and line. */
export class SweepValidationError extends Error {
  override readonly name = 'SweepValidationError';
  constructor(
    readonly source: string,
    readonly problems: SweepProblem[],
  ) {
    super(problems.map((p) => formatProblem(source, p)).join('\n'));
  }
}

export function formatProblem(source: string, problem: SweepProblem): string {
  const where = problem.line ? `${source}:${problem.line}:${problem.column ?? 1}` : source;
  return problem.path
    ? `${where}: ${problem.path}: ${problem.message}`
    : `${where}: ${problem.message}`;
}

/** `spec.grids[0].masks[1]` for the keys ['spec', 'grids', 0, 'masks', 1]. */
export function formatPath(keys: ReadonlyArray<string | number>): string {
  return keys
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`))
    .join('');
}
