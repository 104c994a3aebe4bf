import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countLabels, loadDataset } from './dataset.js';
import { decodeGray } from './decode.js';
import { readLabels, SUSPECT_REASON } from './labels.js';
import { writePhantomDataset } from './phantom.js';

const HEAD_CT = fileURLToPath(
  new URL('../../../../shared/data/head-ct-hemorrhage/', import.meta.url),
);
const dir = mkdtempSync(join(tmpdir(), 'masksweep-dataset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadDataset', () => {
  beforeAll(async () => {
    await writePhantomDataset(dir, { count: 10, size: 40, seed: 9, positiveFraction: 0.3 });
    const lastNormal = readLabels(dir).samples.findLast((sample) => sample.label === 0);
    writeFileSync(join(dir, 'suspect_images.txt'), `${lastNormal?.id}\n`);
    writeFileSync(join(dir, 'images', 'broken.png'), 'truncated');
    appendFileSync(
      join(dir, 'labels.csv'),
      'images/broken.png,1,lesion,p9\nimages/gone.png,0,normal,p9\n',
    );
  });

  it('decodes the usable images in labels.csv order and reports every file it left out', async () => {
    const listed = readLabels(dir).samples;
    const dataset = await loadDataset(dir, { size: 16 });
    expect(dataset.samples).toEqual(listed.slice(0, 9));
    expect(dataset.samples).toHaveLength(9);
    expect(dataset.images).toHaveLength(9);
    expect(dataset.classCounts).toEqual(
      new Map([
        [0, 6],
        [1, 3],
      ]),
    );
    const first = await decodeGray(dataset.samples[0]?.path as string, { size: 16 });
    expect(dataset.images[0]).toEqual(first);
    expect(dataset.skipped.map((file) => file.path)).toEqual([
      'images/normal/9.png',
      'images/broken.png',
      'images/gone.png',
    ]);
    expect(dataset.skipped[0]?.reason).toBe(SUSPECT_REASON);
    expect(dataset.skipped[1]?.reason).toContain(join(dir, 'images/broken.png'));
  });

  it('stops on a bad option instead of skipping every file', async () => {
    await expect(loadDataset(dir, { size: -1 })).rejects.toThrow(/size must be a positive integer/);
  });
});

describe('countLabels', () => {
  it('counts per label in ascending label order', () => {
    const counts = countLabels([{ label: 2 }, { label: 0 }, { label: 2 }]);
    expect([...counts]).toEqual([
      [0, 1],
      [2, 2],
    ]);
  });
});

describe.skipIf(!existsSync(HEAD_CT))(
  `loadDataset on ${HEAD_CT} (skipped when that folder is absent)`,
  () => {
    it('loads all 200 images at one size whatever their original size and mode', async () => {
      const dataset = await loadDataset(HEAD_CT, { size: 32 });
      expect(dataset.skipped).toEqual([]);
      expect(dataset.classCounts).toEqual(
        new Map([
          [0, 100],
          [1, 100],
        ]),
      );
      expect(
        dataset.images.every((image) => image.width === 32 && image.data.length === 32 * 32),
      ).toBe(true);
    });
  },
);
