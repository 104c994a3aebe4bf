import type { MetricSummary } from '@masksweep/proto';
import { describe, expect, it } from 'vitest';
import type { ConfigSummary } from '../store/types.js';
import { heatStep, maskHeatMaps } from './heat-maps.js';

const metric = (mean: number): MetricSummary => ({
  mean,
  std: Number.NaN,
  ciLow: Number.NaN,
  ciHigh: Number.NaN,
  n: 1,
  perSeed: [mean],
  standardError: Number.NaN,
});

function config(
  method: string,
  mask: { type: string; ratio?: number; size?: number } | null,
  augmentation: string,
  grids: string[],
  f1: number,
): ConfigSummary {
  const json = { method, mask, augmentation: { type: augmentation } };
  return {
    config: {
      configKey: `cfg-${JSON.stringify(json)}`,
      method,
      maskType: mask?.type ?? '',
      maskRatio: mask?.ratio ?? 0,
      maskSize: mask?.size ?? 0,
      augmentation,
      seed: 0,
      pretrainKey: '',
      configJson: JSON.stringify(json),
      grids,
    },
    metrics: { f1: metric(f1) },
    valMetrics: {},
    seeds: [0],
    trials: ['t'],
    testImages: 0,
    testSet: '',
    sharedTestSet: false,
  };
}

describe('maskHeatMaps', () => {
  it('maps each grid apart, one config per cell, and configs differing beside the mask apart', () => {
    const configs = [
      config('spark', { type: 'random', ratio: 0.6 }, 'randomResizedCrop', ['a', 'b'], 0.877),
      config('spark', { type: 'random', ratio: 0.5 }, 'randomResizedCrop', ['b'], 0.85),
      config('spark', { type: 'mesh', ratio: 0.7 }, 'randomResizedCrop', ['b'], 0.842),
      config('spark', { type: 'square', size: 2 }, 'randomResizedCrop', ['b'], 0.821),
      // Same masks with another augmentation: its own map, not pooled into the first.
      config('spark', { type: 'random', ratio: 0.6 }, 'none', ['b'], 0.95),
      config('spark', { type: 'mesh', ratio: 0.7 }, 'none', ['b'], 0.9),
      // Grid a has one masked config with its augmentation: no map. Scratch has no mask.
      config('spark', { type: 'random', ratio: 0.6 }, 'none', ['a'], 0.5),
      config('scratch', null, 'randomResizedCrop', ['a', 'b'], 0.6),
    ];
    const maps = maskHeatMaps(configs, ['b', 'a']);
    expect(maps.map((m) => [m.grid, m.title])).toEqual([
      ['b', 'SparK · RandomResizedCrop'],
      ['b', 'SparK · None'],
    ]);
    const [first] = maps;
    expect(first?.rowLabels).toEqual(['Square', 'Random', 'Mesh']);
    expect(first?.columnLabels).toEqual(['2×2', '50%', '60%', '70%']);
    expect(first?.cells.map((row) => row.map((cell) => cell?.value))).toEqual([
      [0.821, undefined, undefined, undefined],
      [undefined, 0.85, 0.877, undefined],
      [undefined, undefined, undefined, 0.842],
    ]);
    expect([first?.min, first?.max]).toEqual([0.821, 0.877]);
    expect(heatStep(0.821, first as NonNullable<typeof first>)).toBe(0);
    expect(heatStep(0.877, first as NonNullable<typeof first>)).toBe(10);
    expect(heatStep(0.849, first as NonNullable<typeof first>)).toBe(5);
  });
});
