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

  it("draws phantoms with the source's lesion options: the same slices, fainter lesions", async () => {
    const load = async (lesionContrast?: [number, number]) => {
      const phantom = { phantom: { count: 8, seed: 3, positiveFraction: 0.5, lesionContrast } };
      const splits = { train: 0.5, val: 0.25, test: 0.25 };
      const datasets = { pretrain: phantom, downstream: phantom, imageSize: 32 };
      return loadTrialData({ ...datasets, resize: 'stretch', splits, splitSeed: 0 }, dir);
    };
    const [bright, faint] = [await load(), await load([0.05, 0.05])];
    const total = (image: { data: Float32Array }) => image.data.reduce((a, b) => a + b, 0);
    bright.pretrain.forEach((image, i) => {
      const other = faint.pretrain[i] as typeof image;
      // a slice without lesions is the same; one with lesions is darker where they are
      if (total(image) === total(other)) expect(other.data).toEqual(image.data);
      else expect(total(other)).toBeLessThan(total(image) - 1);
    });
    expect(
      bright.pretrain.some((image, i) => total(image) !== total(faint.pretrain[i] as typeof image)),
    ).toBe(true);
  });
});
