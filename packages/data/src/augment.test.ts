import { Random } from '@masksweep/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cropAndResize,
  cutmix,
  type LabelledBatch,
  mixup,
  oneHot,
  randomBatchAugment,
  randomFlip,
  randomResizedCrop,
  randomResizedCropBox,
} from './augment.js';
import type { GrayImage } from './gray-image.js';

function imageOf(
  width: number,
  height: number,
  value: (x: number, y: number) => number,
): GrayImage {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = value(x, y);
  return { width, height, data };
}

function noise(seed: number, width: number, height = width): GrayImage {
  const rng = new Random(seed);
  return imageOf(width, height, () => rng.float());
}

describe('randomResizedCropBox', () => {
  it('keeps the box inside the image with area and aspect in range (give or take rounding)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 600 }),
        fc.integer({ min: 8, max: 600 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.constantFrom<[number, number]>([0.08, 1], [0.2, 1], [0.67, 1], [0.5, 0.5]),
        (height, width, seed, scale) => {
          const ratio: [number, number] = [3 / 4, 4 / 3];
          const box = randomResizedCropBox(height, width, new Random(seed), { scale, ratio });
          expect(box.top).toBeGreaterThanOrEqual(0);
          expect(box.left).toBeGreaterThanOrEqual(0);
          expect(box.top + box.height).toBeLessThanOrEqual(height);
          expect(box.left + box.width).toBeLessThanOrEqual(width);
          const isFallback = box.height === height || box.width === width;
          // Each side is rounded to whole pixels: half a pixel either way.
          expect((box.width + 0.5) / (box.height - 0.5)).toBeGreaterThanOrEqual(ratio[0]);
          expect((box.width - 0.5) / (box.height + 0.5)).toBeLessThanOrEqual(ratio[1]);
          if (!isFallback) {
            expect((box.width + 0.5) * (box.height + 0.5)).toBeGreaterThanOrEqual(
              scale[0] * height * width,
            );
            expect((box.width - 0.5) * (box.height - 0.5)).toBeLessThanOrEqual(
              scale[1] * height * width,
            );
          }
        },
      ),
    );
  });

  it('falls back to a centre crop clamped to the ratio when no draw fits', () => {
    // A 10 x 100 strip cannot hold any crop of at least 90 % of its area with ratio <= 4/3.
    const box = randomResizedCropBox(10, 100, new Random(1), { scale: [0.9, 1] });
    expect(box).toEqual({ top: 0, left: Math.floor((100 - 13) / 2), height: 10, width: 13 });
    const tall = randomResizedCropBox(100, 10, new Random(1), { scale: [0.9, 1] });
    expect(tall).toEqual({ top: Math.floor((100 - 13) / 2), left: 0, height: 13, width: 10 });
  });

  it('covers the scale range: small and large crops both occur', () => {
    const rng = new Random(3);
    const areas = Array.from({ length: 400 }, () => {
      const box = randomResizedCropBox(100, 100, rng);
      return (box.width * box.height) / 10000;
    });
    expect(Math.min(...areas)).toBeLessThan(0.15);
    expect(Math.max(...areas)).toBeGreaterThan(0.85);
  });

  it('refuses scale and ratio ranges that are not ranges', () => {
    expect(() => randomResizedCropBox(10, 10, new Random(1), { scale: [0.5, 0.2] })).toThrow(
      /scale/,
    );
    expect(() => randomResizedCropBox(10, 10, new Random(1), { ratio: [0, 1] })).toThrow(/ratio/);
  });
});

describe('cropAndResize', () => {
  it('returns the same pixels for a whole-image box at the same size', () => {
    const image = noise(2, 10);
    expect(cropAndResize(image, { top: 0, left: 0, height: 10, width: 10 }, 10)).toEqual(image);
  });

  it('interpolates linearly between pixel centres when enlarging', () => {
    const ramp = imageOf(4, 4, (x) => x);
    const out = cropAndResize(ramp, { top: 0, left: 1, height: 2, width: 2 }, 4);
    // Source columns 1 and 2; output centres map to 0.75, 1.25, 1.75, 2.25 -> clamped to [1, 2].
    expect(Array.from(out.data.subarray(0, 4))).toEqual([1, 1.25, 1.75, 2]);
  });

  it('averages over the box when shrinking instead of sampling between two pixels', () => {
    // 1-px stripes shrunk 2.5x: sampling would alias to 0.25 / 0.75; the widened filter gives ~0.5
    const stripes = imageOf(40, 40, (x) => (x % 2 === 0 ? 1 : 0));
    const out = cropAndResize(stripes, { top: 0, left: 0, height: 40, width: 40 }, 16);
    for (const value of out.data) expect(Math.abs(value - 0.5)).toBeLessThan(0.05);
  });

  it('reads an 8-bit source as value / 255', () => {
    const source = { width: 2, height: 1, data: Uint8Array.from([0, 255]) };
    const out = cropAndResize(source, { top: 0, left: 0, height: 1, width: 2 }, 2); // 2x2
    expect(Array.from(out.data)).toEqual([0, 1, 0, 1]);
  });

  it('refuses boxes outside the image', () => {
    expect(() => cropAndResize(noise(1, 8), { top: 4, left: 0, height: 5, width: 2 }, 4)).toThrow(
      /outside/,
    );
  });
});

describe('randomResizedCrop', () => {
  it('returns size x size values within the input range, the same for the same seed', () => {
    const image = noise(4, 50, 40);
    const a = randomResizedCrop(image, new Random(9), { size: 24 });
    const b = randomResizedCrop(image, new Random(9), { size: 24 });
    const c = randomResizedCrop(image, new Random(10), { size: 24 });
    expect(a.width).toBe(24);
    expect(a.height).toBe(24);
    expect(a).toEqual(b);
    expect(a.data).not.toEqual(c.data);
    expect(Math.min(...a.data)).toBeGreaterThanOrEqual(Math.min(...image.data));
    expect(Math.max(...a.data)).toBeLessThanOrEqual(Math.max(...image.data));
  });

  it('is the crop of the box the same random stream draws', () => {
    const image = noise(5, 30);
    const box = randomResizedCropBox(30, 30, new Random(2));
    expect(randomResizedCrop(image, new Random(2), { size: 16 })).toEqual(
      cropAndResize(image, box, 16),
    );
  });
});

describe('randomResizedCrop with a source', () => {
  const image = noise(11, 30);
  const source = {
    width: 120,
    height: 120,
    data: Uint8Array.from({ length: 120 * 120 }, (_, i) => (i * 37) % 256),
  };
  it('cuts the box from the source and resizes it to the size, the same for the same seed', () => {
    for (const seed of [1, 2, 3]) {
      const box = randomResizedCropBox(120, 120, new Random(seed));
      const crop = randomResizedCrop({ ...image, source }, new Random(seed), { size: 30 });
      expect(crop).toEqual(cropAndResize(source, box, 30));
      expect(randomResizedCrop({ ...image, source }, new Random(seed), { size: 30 })).toEqual(crop);
    }
  });
});

describe('randomFlip', () => {
  it('mirrors left-right with p = 1, and flipping twice gives the image back', () => {
    const image = noise(6, 7, 5);
    const flipped = randomFlip(image, new Random(1), { p: 1 });
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 7; x++) expect(flipped.data[y * 7 + x]).toBe(image.data[y * 7 + 6 - x]);
    }
    expect(randomFlip(flipped, new Random(2), { p: 1 })).toEqual(image);
    expect(randomFlip(image, new Random(3), { p: 0 })).toBe(image);
  });

  it('flips about half of the time by default', () => {
    const rng = new Random(8);
    const image = noise(7, 4);
    let flips = 0;
    for (let i = 0; i < 2000; i++) if (randomFlip(image, rng) !== image) flips++;
    expect(flips).toBeGreaterThan(900);
    expect(flips).toBeLessThan(1100);
  });
});

/** Image i is constant (i + 1) / 10, so every pixel tells which image it came from. */
function constantBatch(n: number, size: number, classes = 3): LabelledBatch {
  return {
    images: Array.from({ length: n }, (_, i) => imageOf(size, size, () => (i + 1) / 10)),
    labels: Array.from({ length: n }, (_, i) => oneHot(i % classes, classes)),
  };
}

describe('mixup', () => {
  it('mixes pixels and labels as lambda a + (1 - lambda) b, labels summing to 1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 6 }),
        (seed, n) => {
          const batch = {
            images: Array.from({ length: n }, (_, i) => noise(seed + i, 6)),
            labels: constantBatch(n, 1).labels,
          };
          const mixed = mixup(batch, new Random(seed), { alpha: 0.8 });
          expect(mixed.lambda).toBeGreaterThanOrEqual(0);
          expect(mixed.lambda).toBeLessThanOrEqual(1);
          expect([...mixed.permutation].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
          mixed.images.forEach((image, i) => {
            const a = batch.images[i] as GrayImage;
            const b = batch.images[mixed.permutation[i] as number] as GrayImage;
            image.data.forEach((value, p) => {
              expect(value).toBeCloseTo(
                mixed.lambda * (a.data[p] as number) + (1 - mixed.lambda) * (b.data[p] as number),
                5,
              );
            });
            const label = mixed.labels[i] as Float32Array;
            expect(label.reduce((sum, v) => sum + v, 0)).toBeCloseTo(1, 5);
            label.forEach((value, c) => {
              const expected =
                mixed.lambda * ((batch.labels[i] as Float32Array)[c] as number) +
                (1 - mixed.lambda) *
                  ((batch.labels[mixed.permutation[i] as number] as Float32Array)[c] as number);
              expect(value).toBeCloseTo(expected, 5);
            });
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('leaves the input batch untouched and repeats itself under a seed', () => {
    const batch = constantBatch(4, 3);
    const before = structuredClone(batch);
    const a = mixup(batch, new Random(1), { alpha: 1 });
    expect(batch).toEqual(before);
    expect(mixup(batch, new Random(1), { alpha: 1 })).toEqual(a);
    expect(mixup(batch, new Random(2), { alpha: 1 }).lambda).not.toBe(a.lambda);
  });

  it('refuses a bad alpha and mismatched batches', () => {
    expect(() => mixup(constantBatch(2, 2), new Random(1), { alpha: 0 })).toThrow(/mixup alpha/);
    const batch = constantBatch(2, 2);
    batch.images[1] = imageOf(3, 2, () => 0);
    expect(() => mixup(batch, new Random(1), { alpha: 1 })).toThrow(/batch image 1 is 3x2/);
    expect(() => mixup({ images: [], labels: [] }, new Random(1), { alpha: 1 })).toThrow(
      /at least one image/,
    );
  });
});

describe('cutmix', () => {
  it('pastes one box from the partner image and weighs labels by the pasted area', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 2, max: 5 }),
        (seed, n) => {
          const size = 20;
          const batch = constantBatch(n, size);
          const mixed = cutmix(batch, new Random(seed), { alpha: 1 });
          const { box } = mixed;
          mixed.images.forEach((image, i) => {
            const partner = mixed.permutation[i] as number;
            if (partner === i) return;
            let pasted = 0;
            image.data.forEach((value, p) => {
              const x = p % size;
              const y = Math.floor(p / size);
              const inBox =
                y >= box.top &&
                y < box.top + box.height &&
                x >= box.left &&
                x < box.left + box.width;
              expect(value).toBeCloseTo((inBox ? partner + 1 : i + 1) / 10, 6);
              if (inBox) pasted++;
            });
            expect(1 - mixed.lambda).toBeCloseTo(pasted / (size * size), 10);
            const label = mixed.labels[i] as Float32Array;
            expect(label.reduce((sum, v) => sum + v, 0)).toBeCloseTo(1, 5);
            const own = (batch.labels[i] as Float32Array).indexOf(1);
            const other = (batch.labels[partner] as Float32Array).indexOf(1);
            if (own !== other) expect(label[other]).toBeCloseTo(pasted / (size * size), 5);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('cuts a box of about sqrt(1 - lambda) of each side before clipping', () => {
    const rng = new Random(4);
    let unclipped = 0;
    for (let i = 0; i < 200; i++) {
      const { box, lambda } = cutmix(constantBatch(2, 64), rng, { alpha: 1 });
      if (box.top > 0 && box.left > 0 && box.top + box.height < 64 && box.left + box.width < 64) {
        unclipped++;
        // Not clipped: both sides are 2 * floor(int(64 r) / 2), and lambda is 1 - side^2 / 64^2.
        expect(box.height).toBe(box.width);
        expect(box.height % 2).toBe(0);
        expect(Math.sqrt((1 - lambda) * 64 * 64)).toBeCloseTo(box.height, 6);
      }
    }
    expect(unclipped).toBeGreaterThan(10);
  });

  it('repeats itself under a seed', () => {
    const batch = constantBatch(4, 16);
    expect(cutmix(batch, new Random(5), { alpha: 1 })).toEqual(
      cutmix(batch, new Random(5), { alpha: 1 }),
    );
  });
});

describe('randomBatchAugment', () => {
  it('applies one of the augments per batch, each about half of the time', () => {
    const rng = new Random(12);
    const batch = constantBatch(3, 8);
    const counts = { mixup: 0, cutmix: 0 };
    for (let i = 0; i < 400; i++) {
      const mixed = randomBatchAugment(batch, rng, ['mixup', 'cutmix']);
      counts[mixed.augment]++;
      expect('box' in mixed).toBe(mixed.augment === 'cutmix');
    }
    expect(counts.mixup).toBeGreaterThan(160);
    expect(counts.cutmix).toBeGreaterThan(160);
  });

  it('uses the alpha given for the augment it picks', () => {
    const rng = new Random(3);
    const batch = constantBatch(2, 4);
    const spread = (alpha: number) => {
      let sum = 0;
      for (let i = 0; i < 200; i++) {
        sum += Math.abs(randomBatchAugment(batch, rng, ['mixup'], { mixup: alpha }).lambda - 0.5);
      }
      return sum / 200;
    };
    // Beta(a, a) piles up at 0 and 1 for small a and at 1/2 for large a.
    expect(spread(0.05)).toBeGreaterThan(0.4);
    expect(spread(50)).toBeLessThan(0.1);
  });

  it('refuses an empty or unknown augment list', () => {
    expect(() => randomBatchAugment(constantBatch(1, 2), new Random(1), [])).toThrow(
      /at least one/,
    );
    expect(() =>
      randomBatchAugment(constantBatch(1, 2), new Random(1), ['resizemix' as 'mixup']),
    ).toThrow(/unknown batch augment 'resizemix'/);
  });
});

describe('oneHot', () => {
  it('sets one class to 1 and refuses labels out of range', () => {
    expect(Array.from(oneHot(2, 4))).toEqual([0, 0, 1, 0]);
    expect(() => oneHot(4, 4)).toThrow(/label must be an integer in \[0, 4\), got 4/);
  });
});
