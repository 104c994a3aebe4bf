/**
 * Masks generated per second for every mask type of the study on the 7x7 grid (224 px),
 * drawn in batches as a trainer draws them.
 */
import { createMaskGenerator, type MaskSetting, maskLabel } from '@masksweep/masks';
import { Random } from '@masksweep/random';
import type { Benchmark } from './benchmark.js';
import { ratePerSecond } from './measure.js';

const SETTINGS: MaskSetting[] = [
  { type: 'random', ratio: 0.6 },
  { type: 'mesh', ratio: 0.6 },
  { type: 'mesh', ratio: 0.8 },
  { type: 'square', size: 2 },
  { type: 'square', size: 4 },
  { type: 'blockwise', ratio: 0.4 },
  { type: 'blockwise', ratio: 0.8 },
];

const benchmark: Benchmark = {
  options: {
    seconds: 'seconds of measurement per setting (default 1)',
    batch: 'masks per generate call (default 64)',
    grid: 'patches per side (default 7)',
  },
  async run(options) {
    const seconds = Number(options.seconds ?? 1);
    const batch = Number(options.batch ?? 64);
    const grid = Number(options.grid ?? 7);
    const results = [];
    for (const setting of SETTINGS) {
      const generator = createMaskGenerator(setting, grid);
      const rng = new Random(0);
      const rate = await ratePerSecond(() => generator.generate(batch, rng), batch, { seconds });
      const row = {
        ...setting,
        masksPerSecond: Math.round(rate.median),
        runs: rate.runs.map(Math.round),
      };
      console.error(`${maskLabel(setting)}: ${row.masksPerSecond} masks/s`);
      results.push(row);
    }
    return { grid, batch, secondsPerSetting: seconds, results };
  },
};
export default benchmark;
