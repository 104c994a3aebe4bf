import type { TrialConfig } from '@masksweep/proto';
import { describe, expect, it } from 'vitest';
import { layoutGrid } from './table-layout.js';

function config(
  method: string,
  augmentation: Record<string, unknown>,
  mask: { type: string; ratio?: number; size?: number } | null = null,
): TrialConfig {
  const json = { method, mask, augmentation };
  return {
    configKey: `cfg-${JSON.stringify(json)}`,
    method,
    maskType: mask?.type ?? '',
    maskRatio: mask?.ratio ?? 0,
    maskSize: mask?.size ?? 0,
    augmentation: augmentation.type as string,
    seed: 0,
    pretrainKey: '',
    configJson: JSON.stringify(json),
    grids: ['g'],
  };
}

describe('layoutGrid', () => {
  it('labels two configs of one augmentation type by the parameter that differs, each with its own scratch', () => {
    const wide = { type: 'randomResizedCrop', scale: [0.08, 1] };
    const narrow = { type: 'randomResizedCrop', scale: [0.5, 1] };
    const tables = layoutGrid('g', [
      config('mff', wide),
      config('mff', narrow),
      config('mff', { type: 'none' }),
      config('scratch', narrow),
      config('scratch', { type: 'none' }),
    ]);
    expect(tables).toHaveLength(1);
    const [table] = tables;
    expect(table?.title).toBe('MFF');
    expect(table?.rows.map((r) => r.label)).toEqual([
      'None',
      'RandomResizedCrop · augmentation.scale=[0.08,1]',
      'RandomResizedCrop · augmentation.scale=[0.5,1]',
    ]);
    const references = table?.rows.map(
      (r) => table.referenceCandidates.get(r.config.configKey)?.map((c) => c.configJson) ?? [],
    );
    expect(references).toEqual([
      [config('scratch', { type: 'none' }).configJson],
      [],
      [config('scratch', narrow).configJson],
    ]);
  });

  it('lays a grid of scratch configs out as rows, and mixed mask settings under one header', () => {
    const scratch = layoutGrid('g', [
      config('scratch', { type: 'mixup' }),
      config('scratch', { type: 'none' }),
    ]);
    expect(scratch.map((t) => [t.title, t.rows.map((r) => r.label)])).toEqual([
      ['Scratch', ['None', 'Mixup']],
    ]);
    expect(scratch[0]?.referenceCandidates.get(scratch[0].rows[0]?.config.configKey ?? '')).toEqual(
      [],
    );
    const masks = layoutGrid('g', [
      config('spark', { type: 'none' }, { type: 'square', size: 2 }),
      config('spark', { type: 'none' }, { type: 'square', ratio: 0.5 }),
    ]);
    expect(masks.map((t) => [t.title, t.fixed, t.rowHeader, t.rows.map((r) => r.label)])).toEqual([
      ['SparK · Square mask · None', '', 'Mask setting', ['2×2', '50%']],
    ]);
  });
});
