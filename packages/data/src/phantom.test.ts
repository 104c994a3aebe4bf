import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@masksweep/random';
import { afterAll, describe, expect, it } from 'vitest';
import { readLabels } from './labels.js';
import { renderPhantom, writePhantomDataset } from './phantom.js';

const dir = mkdtempSync(join(tmpdir(), 'masksweep-phantom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function meanInDiscs(
  data: Float32Array,
  size: number,
  discs: Array<{ x: number; y: number; radius: number }>,
): number {
  let sum = 0;
  let count = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (discs.some((disc) => Math.hypot(x - disc.x, y - disc.y) < 0.7 * disc.radius)) {
        sum += data[y * size + x] as number;
        count++;
      }
    }
  }
  expect(count).toBeGreaterThan(0);
  return sum / count;
}

describe('renderPhantom', () => {
  it('draws values in [0, 1] with a dark background, a bright skull and grey brain', () => {
    const { image } = renderPhantom(new Random(5), { size: 96, lesions: 0 });
    expect(image.width).toBe(96);
    expect(image.data).toHaveLength(96 * 96);
    expect(Math.min(...image.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...image.data)).toBeLessThanOrEqual(1);
    expect(image.data[0]).toBeLessThan(0.1);
    // The middle row crosses background, skull, brain, skull, background.
    const row = Array.from(image.data.subarray(48 * 96, 49 * 96));
    expect(Math.max(...row)).toBeGreaterThan(0.85);
    const brainLike = row.filter((value) => value > 0.3 && value < 0.6);
    expect(brainLike.length).toBeGreaterThan(30);
  });

  it('makes lesion pixels brighter than the brain tissue of the same slice without lesions', () => {
    for (const seed of [1, 2, 3, 4]) {
      const withLesions = renderPhantom(new Random(seed), { size: 128, lesions: 2 });
      const without = renderPhantom(new Random(seed), { size: 128, lesions: 0 });
      expect(withLesions.lesionCenters).toHaveLength(2);
      expect(without.lesionCenters).toEqual([]);
      const lesion = meanInDiscs(withLesions.image.data, 128, withLesions.lesionCenters);
      const tissue = meanInDiscs(without.image.data, 128, withLesions.lesionCenters);
      expect(tissue).toBeGreaterThan(0.3);
      expect(tissue).toBeLessThan(0.6);
      expect(lesion).toBeGreaterThan(tissue + 0.25);
    }
  });

  it('draws lesions of the given contrast over the tissue, in the same places for any contrast', () => {
    for (const seed of [1, 2, 3]) {
      const render = (lesionContrast?: [number, number]) =>
        renderPhantom(new Random(seed), { size: 128, lesions: 2, lesionContrast });
      const without = renderPhantom(new Random(seed), { size: 128, lesions: 0 });
      const faint = render([0.06, 0.06]);
      const bright = render();
      expect(faint.lesionCenters).toEqual(bright.lesionCenters);
      const rise = (image: Float32Array) =>
        meanInDiscs(image, 128, faint.lesionCenters) -
        meanInDiscs(without.image.data, 128, faint.lesionCenters);
      // 0.06 at the centre, 80 % of it at the rim: the inner 70 % of a disc rises by 0.05-0.06.
      expect(rise(faint.image.data)).toBeGreaterThan(0.045);
      expect(rise(faint.image.data)).toBeLessThan(0.062);
      expect(rise(bright.image.data)).toBeGreaterThan(0.25);
    }
  });

  it('draws each lesion radius from the range, as a share of the brain', () => {
    const radii = (lesionRadius: [number, number]) =>
      renderPhantom(new Random(9), { size: 128, lesions: 3, lesionRadius }).lesionCenters.map(
        (lesion) => lesion.radius,
      );
    const small = radii([0.1, 0.1]);
    const large = radii([0.3, 0.3]);
    expect(new Set(small).size).toBe(1);
    // the brain's smaller semi-axis of a 128-px slice is 32-45 px
    expect(small[0]).toBeGreaterThan(3.2);
    expect(small[0]).toBeLessThan(4.5);
    for (const [k, radius] of large.entries()) expect(radius).toBeCloseTo(3 * (small[k] as number));
    // a lesion too large to miss the ventricles still finds a place
    expect(radii([0.9, 1])).toHaveLength(3);
  });

  it('varies the head from seed to seed and repeats it for the same seed', () => {
    const a = renderPhantom(new Random(7), { size: 48, lesions: 1 });
    const b = renderPhantom(new Random(7), { size: 48, lesions: 1 });
    const c = renderPhantom(new Random(8), { size: 48, lesions: 1 });
    expect(a).toEqual(b);
    expect(a.image.data).not.toEqual(c.image.data);
  });

  it('refuses sizes below 16 and negative lesion counts', () => {
    expect(() => renderPhantom(new Random(1), { size: 8, lesions: 0 })).toThrow(
      /size must be an integer >= 16/,
    );
    expect(() => renderPhantom(new Random(1), { size: 32, lesions: -1 })).toThrow(
      /lesions must be/,
    );
    expect(() =>
      renderPhantom(new Random(1), { size: 32, lesions: 1, lesionRadius: [0.3, 0.2] }),
    ).toThrow(/lesionRadius must be \[low, high\] with 0 < low <= high <= 1, got \[0\.3, 0\.2\]/);
    expect(() =>
      renderPhantom(new Random(1), { size: 32, lesions: 0, lesionContrast: [0, 0.1] }),
    ).toThrow(/lesionContrast must be/);
  });
});

describe('writePhantomDataset', () => {
  const options = { count: 10, size: 32, seed: 3, patients: 3 };

  it('writes the same bytes for the same seed and others for another seed', async () => {
    await writePhantomDataset(join(dir, 'a'), options);
    await writePhantomDataset(join(dir, 'b'), options);
    await writePhantomDataset(join(dir, 'c'), { ...options, seed: 4 });
    const files = readLabels(join(dir, 'a')).samples.map((sample) => sample.id);
    expect(files).toHaveLength(10);
    const bytes = (name: string, file: string) => readFileSync(join(dir, name, file));
    for (const file of files) expect(bytes('b', file).equals(bytes('a', file))).toBe(true);
    expect(files.some((file) => !bytes('c', file).equals(bytes('a', file)))).toBe(true);
    expect(readFileSync(join(dir, 'b', 'labels.csv'), 'utf8')).toBe(
      readFileSync(join(dir, 'a', 'labels.csv'), 'utf8'),
    );
  });

  it('writes labels.csv with classes, patients of several slices and the positive share', async () => {
    const folder = join(dir, 'labelled');
    await writePhantomDataset(folder, {
      count: 12,
      size: 24,
      seed: 1,
      positiveFraction: 0.25,
      patients: 4,
    });
    expect(readFileSync(join(folder, 'labels.csv'), 'utf8').split('\n')[0]).toBe(
      'path,label,class_name,patient',
    );
    const { samples } = readLabels(folder);
    expect(samples.filter((sample) => sample.label === 1)).toHaveLength(3);
    for (const sample of samples) {
      expect(sample.className).toBe(sample.label === 1 ? 'lesion' : 'normal');
      expect(sample.id.startsWith(`images/${sample.className}/`)).toBe(true);
    }
    const slicesPerPatient = new Map<string, number>();
    for (const { group } of samples)
      slicesPerPatient.set(group as string, (slicesPerPatient.get(group as string) ?? 0) + 1);
    expect([...slicesPerPatient.values()]).toEqual([3, 3, 3, 3]);
    expect(readdirSync(join(folder, 'images')).sort()).toEqual(['lesion', 'normal']);
  });

  it('refuses impossible options', async () => {
    await expect(
      writePhantomDataset(join(dir, 'x'), { count: 0, size: 32, seed: 1 }),
    ).rejects.toThrow(/count/);
    await expect(
      writePhantomDataset(join(dir, 'x'), { count: 4, size: 32, seed: 1, patients: 5 }),
    ).rejects.toThrow(/patients must be an integer in \[1, 4\]/);
    await expect(
      writePhantomDataset(join(dir, 'x'), { count: 4, size: 32, seed: 1, positiveFraction: 1.5 }),
    ).rejects.toThrow(/positiveFraction/);
    await expect(
      writePhantomDataset(join(dir, 'x'), {
        count: 4,
        size: 32,
        seed: 1,
        lesionContrast: [0.2, 2],
      }),
    ).rejects.toThrow(/lesionContrast/);
  });
});
