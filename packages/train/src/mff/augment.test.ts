import { Random } from '@masksweep/random';
import { describe, expect, it } from 'vitest';
import { cropReflectPadded, randomCropReflectPadded } from './augment.js';

/** 3x3 image, values 0..8 row-major. */
const image = { width: 3, height: 3, data: Float32Array.from({ length: 9 }, (_, i) => i) };
const rows = (data: Float32Array) => [0, 1, 2].map((r) => Array.from(data.slice(3 * r, 3 * r + 3)));

describe('reflect-padded crop', () => {
  it("reflects without repeating the edge, as torchvision's padding_mode='reflect'", () => {
    // padded row -1 reads row 1, column -1 reads column 1
    expect(rows(cropReflectPadded(image, 0, 0, 1).data)).toEqual([
      [4, 3, 4],
      [1, 0, 1],
      [4, 3, 4],
    ]);
    expect(rows(cropReflectPadded(image, 1, 1, 1).data)).toEqual(rows(image.data));
    expect(rows(cropReflectPadded(image, 2, 2, 1).data)).toEqual([
      [4, 5, 4],
      [7, 8, 7],
      [4, 5, 4],
    ]);
    expect(() => cropReflectPadded(image, 0, 0, 3)).toThrow(/larger than 3x3/);
  });

  it('draws its offset from the seed, within twice the padding', () => {
    const big = { width: 16, height: 16, data: Float32Array.from({ length: 256 }, (_, i) => i) };
    const a = randomCropReflectPadded(big, new Random(3));
    expect(randomCropReflectPadded(big, new Random(3)).data).toEqual(a.data);
    const shifts = { dy: new Set<number>(), dx: new Set<number>() };
    const rng = new Random(4);
    for (let i = 0; i < 200; i++) {
      const { data } = randomCropReflectPadded(big, rng);
      // pixel (8, 8) reads the offset minus the padding away: -4 to 4 either way
      const value = data[8 * 16 + 8] as number;
      shifts.dy.add(Math.floor(value / 16) - 8);
      shifts.dx.add((value % 16) - 8);
    }
    const all = Array.from({ length: 9 }, (_, i) => i - 4);
    expect([...shifts.dy].sort((a, b) => a - b)).toEqual(all);
    expect([...shifts.dx].sort((a, b) => a - b)).toEqual(all);
  });
});
