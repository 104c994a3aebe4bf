import type { MetricSummary } from '@masksweep/proto';
import { describe, expect, it } from 'vitest';
import type { ConfigSummary } from '../store/types.js';
import { heatStep, maskHeatMap, maskTables, methodAugmentationTables } from './paper-tables.js';

const metric = (mean: number): MetricSummary => ({
  mean,
  std: Number.NaN,
  ciLow: Number.NaN,
  ciHigh: Number.NaN,
  n: 1,
});

function config(
  method: string,
  maskType: string,
  setting: { ratio?: number; size?: number },
  augmentation: string,
  f1: number,
): ConfigSummary {
  const key = `${method}-${maskType}-${setting.ratio ?? setting.size}-${augmentation}-${f1}`;
  return {
    config: {
      configKey: key,
      method,
      maskType,
      maskRatio: setting.ratio ?? 0,
      maskSize: setting.size ?? 0,
      augmentation,
      seed: 0,
      pretrainKey: '',
      configJson: '{}',
      grids: [],
    },
    metrics: {
      f1: metric(f1),
      precision: metric(f1 - 0.1),
      recall: metric(f1 + 0.05),
      accuracy: metric(0.9),
    },
    seeds: [0, 1, 2],
    trials: ['a', 'b', 'c'],
  };
}

const configs = [
  config('spark', 'random', { ratio: 0.6 }, 'randomResizedCrop', 0.877),
  config('spark', 'random', { ratio: 0.6 }, 'none', 0.238),
  config('spark', 'random', { ratio: 0.5 }, 'randomResizedCrop', 0.877),
  config('spark', 'random', { ratio: 0.7 }, 'randomResizedCrop', 0.842),
  config('spark', 'mesh', { ratio: 0.7 }, 'randomResizedCrop', 0.877),
  config('spark', 'mesh', { ratio: 0.6 }, 'randomResizedCrop', 0.842),
  config('spark', 'square', { size: 3 }, 'randomResizedCrop', 0.821),
  config('spark', 'square', { size: 2 }, 'randomResizedCrop', 0.836),
  config('simclr', '', {}, 'mixup', 0.721),
  config('simclr', '', {}, 'none', 0.704),
  config('simclr', '', {}, 'cutmix', 0.64),
  config('mff', '', {}, 'none', 0.776),
];

describe('methodAugmentationTables', () => {
  it('gives one table per method in the paper order (SimCLR, MFF, SparK), augmentations in its order, the best F1 bold', () => {
    const tables = methodAugmentationTables(configs);
    expect(tables.map((t) => t.title)).toEqual([
      'SimCLR: augmentation',
      'MFF: augmentation',
      'SparK: augmentation',
    ]);
    const simclr = tables[0];
    expect(simclr?.metrics).toEqual(['precision', 'recall', 'f1']);
    expect(simclr?.rows.map((r) => [r.label, r.values[2], r.best])).toEqual([
      ['None', 0.704, false],
      ['CutMix', 0.64, false],
      ['Mixup', 0.721, true],
    ]);
    // SparK with RandomResizedCrop: the best of its masks stands for the row.
    const spark = tables[2];
    expect(spark?.rows.map((r) => [r.label, r.values[2]])).toEqual([
      ['None', 0.238],
      ['RandomResizedCrop', 0.877],
    ]);
  });
});

describe('maskTables', () => {
  it('gives one table per mask type, rows by ratio or size, ties of the best all bold', () => {
    const tables = maskTables(configs);
    expect(tables.map((t) => [t.title, t.rowHeader])).toEqual([
      ['Square mask', 'Mask size'],
      ['Random mask', 'Masking ratio'],
      ['Mesh mask', 'Masking ratio'],
    ]);
    expect(tables[0]?.rows.map((r) => r.label)).toEqual(['2×2', '3×3']);
    expect(tables[1]?.metrics).toEqual(['accuracy', 'precision', 'recall', 'f1']);
    expect(tables[1]?.rows.map((r) => [r.label, r.values[3], r.best])).toEqual([
      ['50%', 0.877, true],
      ['60%', 0.877, true],
      ['70%', 0.842, false],
    ]);
  });
});

describe('maskHeatMap', () => {
  it('lays out mask types by settings with empty cells where the sweep has none', () => {
    const map = maskHeatMap(configs);
    expect(map.rowLabels).toEqual(['Square', 'Random', 'Mesh']);
    expect(map.columnLabels).toEqual(['2×2', '3×3', '50%', '60%', '70%']);
    expect(map.cells).toEqual([
      [0.836, 0.821, undefined, undefined, undefined],
      [undefined, undefined, 0.877, 0.877, 0.842],
      [undefined, undefined, undefined, 0.842, 0.877],
    ]);
    expect([map.min, map.max]).toEqual([0.821, 0.877]);
    expect(heatStep(0.821, map)).toBe(0);
    expect(heatStep(0.877, map)).toBe(10);
    expect(heatStep(0.849, map)).toBe(5);
  });
});
