import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePhantomDataset } from '@masksweep/data';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrialData } from './trial-data.js';

const dir = mkdtempSync(join(tmpdir(), 'trial-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadTrialData', () => {
  it('keeps each file decoded at up to 4x the training size for the crops', async () => {
    await writePhantomDataset(join(dir, 'files'), { count: 8, size: 200, seed: 1 });
    const data = await loadTrialData(
      {
        pretrain: { path: 'files' },
        downstream: { path: 'files' },
        imageSize: 32,
        resize: 'stretch',
        splits: { train: 0.5, val: 0.25, test: 0.25 },
        splitSeed: 0,
      },
      dir,
    );
    for (const image of [...data.pretrain, ...data.train.images]) {
      expect(image).toMatchObject({ width: 32, height: 32 });
      expect(image.source).toMatchObject({ width: 128, height: 128 });
    }
  });

  it('crops in-memory phantoms at the training size: they have no finer original', async () => {
    const phantom = { phantom: { count: 4, seed: 2, positiveFraction: 0.5 } };
    const data = await loadTrialData(
      {
        pretrain: phantom,
        downstream: phantom,
        imageSize: 32,
        resize: 'stretch',
        splits: { train: 0.5, val: 0.25, test: 0.25 },
        splitSeed: 0,
      },
      dir,
    );
    expect(data.pretrain.every((image) => image.source === undefined)).toBe(true);
  });
});
