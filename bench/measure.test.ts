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
    const before = processMemoryMiB(process.pid);
    expect(before.rssMiB).toBeGreaterThan(10);
    expect(before.peakRssMiB).toBeGreaterThanOrEqual(before.rssMiB);
    // 96 MiB touched page by page are resident at once, so both figures rise by about that.
    const block = Buffer.alloc(96 * 1024 * 1024, 1);
    const during = processMemoryMiB(process.pid);
    expect(during.rssMiB - before.rssMiB).toBeGreaterThanOrEqual(90);
    expect(peakRssMiB()).toBeGreaterThanOrEqual(before.rssMiB + 90);
    expect(block[block.length - 1]).toBe(1);
  });
});
