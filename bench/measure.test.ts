import { describe, expect, it } from 'vitest';
import { machineCpuSeconds, peakRssMiB, processCpuSeconds, processMemoryMiB } from './measure.js';

/** Burns `ms` of CPU (not of wall time: the machine may be busy). */
function spin(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const { user, system } = process.cpuUsage(start);
    if (user + system >= ms * 1000) return;
  }
}

describe('the /proc readers', () => {
  it("read this process's CPU seconds as Node counts them, in whole ticks", () => {
    spin(200);
    const node = process.cpuUsage();
    const proc = processCpuSeconds(process.pid);
    // Ticks of 10 ms, summed over utime and stime, and the other threads between two reads.
    expect(Math.abs(proc - (node.user + node.system) / 1e6)).toBeLessThan(0.1);
    spin(200);
    expect(processCpuSeconds(process.pid) - proc).toBeGreaterThanOrEqual(0.18);
  });

  it('count the CPU this process burns in the busy seconds of the machine', () => {
    const before = machineCpuSeconds();
    spin(300);
    expect(machineCpuSeconds() - before).toBeGreaterThanOrEqual(0.28);
  });

  it("read this process's resident memory and its peak as the kernel reports them", () => {
    // getrusage's maxrss is the same high-water mark. It can rise between two reads (the
    // test runner allocates meanwhile), so /proc's is read between two of getrusage's.
    const peakBefore = peakRssMiB();
    const { rssMiB, peakRssMiB: peak } = processMemoryMiB(process.pid);
    const peakAfter = peakRssMiB();
    expect(rssMiB).toBeGreaterThan(10);
    expect(peak).toBeGreaterThanOrEqual(rssMiB);
    expect(peak).toBeGreaterThanOrEqual(peakBefore - 2);
    expect(peak).toBeLessThanOrEqual(peakAfter + 2);
  });
});
