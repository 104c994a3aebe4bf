import { describe, expect, it } from 'vitest';
import type { ConfigSummary, SweepSummary } from '../store/types.js';
import { packSummary, unpackSummary } from './summary-transfer.js';

/** A summary of `count` configs; one seed each, so each standard deviation is NaN. */
function summaryOf(count: number): SweepSummary {
  const configs = Array.from(
    { length: count },
    (_, i) =>
      ({
        config: { configKey: `k${String(i).padStart(4, '0')}` },
        trials: [`t${i}`],
        metrics: { f1: { mean: i / count, std: Number.NaN, values: [i / count] } },
      }) as unknown as ConfigSummary,
  );
  return {
    namespace: 'default',
    sweep: 's',
    resultCount: count,
    configs,
    tables: Array.from({ length: 23 }, (_, i) => ({ grid: `g${i}` }) as SweepSummary['tables'][0]),
    trivial: [],
    objective: 'f1',
    objectiveMinimizes: false,
    confidence: 0.95,
    resamples: 2000,
  };
}

describe('a summary from a worker to the event loop', () => {
  it('arrives whole, in order, NaN kept', async () => {
    const summary = summaryOf(123);
    const packed = packSummary(summary);
    // 123 configs in slices of 50, 23 tables in slices of 10.
    expect(packed.configs).toHaveLength(3);
    expect(packed.tables).toHaveLength(3);
    const unpacked = await unpackSummary(structuredClone(packed));
    expect(unpacked).toEqual(summary);
    expect(Number.isNaN(unpacked.configs[5]?.metrics.f1?.std)).toBe(true);
  });

  it('is read one slice per turn of the event loop, letting others in between', async () => {
    const packed = packSummary(summaryOf(500));
    let turns = 0;
    let counting = true;
    const count = () => {
      turns += 1;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    await unpackSummary(packed);
    counting = false;
    // 10 config slices and 3 table slices: the loop turned at least once for each.
    expect(turns).toBeGreaterThanOrEqual(13);
  });
});
