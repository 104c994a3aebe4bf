import { cpus, totalmem } from 'node:os';

/** The machine a figure was taken on, recorded beside every result. */
export function environment(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

/** Nearest-rank percentile of milliseconds, rounded to µs. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round((sorted[rank] as number) * 1000) / 1000;
}

export function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Runs `work` repeatedly for about `seconds` after one warm-up call and returns how many
 * units per second it did, one figure per repetition (`units` is what one call does).
 */
export async function ratePerSecond(
  work: () => unknown | Promise<unknown>,
  units: number,
  { seconds = 1, repeats = 5 }: { seconds?: number; repeats?: number } = {},
): Promise<{ median: number; runs: number[] }> {
  await work();
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < (seconds * 1000) / repeats) {
      await work();
      calls++;
      elapsed = performance.now() - start;
    }
    runs.push((calls * units * 1000) / elapsed);
  }
  return { median: median(runs), runs };
}

export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
