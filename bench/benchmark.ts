/** What a benchmark is to `npm run bench` (main.ts), and the parsing of its options. */

export type BenchOptions = Record<string, string | boolean | undefined>;

export interface Benchmark {
  /** Option names this benchmark takes (all strings), with one line of help each. */
  options: Record<string, string>;
  run(options: BenchOptions): Promise<Record<string, unknown>>;
}

/** The option `--<name>` as a positive integer, `fallback` when absent. */
export function positiveInteger(
  name: string,
  value: string | boolean | undefined,
  fallback: number,
): number {
  const parsed = Number(value ?? fallback);
  if (!Number.isInteger(parsed) || parsed <= 0) {
    throw new RangeError(`--${name} must be a positive integer, got ${value}`);
  }
  return parsed;
}
