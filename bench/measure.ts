import { readFileSync } from 'node:fs';
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

/**
 * This process's peak resident memory so far, MiB: the kernel's high-water mark of its own
 * address space. Not getrusage's maxRSS, which also keeps the peak of the image the process
 * replaced at exec: a child forked from a 65 MiB runner starts with 65 there.
 */
export function peakRssMiB(): number {
  return processMemoryMiB(process.pid).peakRssMiB;
}

/** USER_HZ, the unit of the CPU times in /proc: 100 on Linux for x86 and ARM. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process (all its threads) so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ", whose comm may hold spaces and parentheses: utime and stime are
  // fields 14 and 15 of stat, so 12 and 13 here.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Busy CPU seconds of the whole machine so far (every process), from /proc/stat. */
export function machineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  // cpu user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0);
  return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / TICKS_PER_SECOND;
}

/** A process's resident memory, now and its peak (VmRSS, VmHWM of /proc/<pid>/status), MiB. */
export function processMemoryMiB(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return Math.round(Number(match?.[1] ?? Number.NaN) / 1024);
  };
  return { rssMiB: mib('VmRSS'), peakRssMiB: mib('VmHWM') };
}
