import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveSeed, Random } from './random.js';

describe('Random', () => {
  it('gives the same stream for the same seed and another for another seed', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const streamA = Array.from({ length: 8 }, () => a.uint32());
    const streamB = Array.from({ length: 8 }, () => b.uint32());
    const streamC = Array.from({ length: 8 }, () => c.uint32());
    expect(streamA).toEqual(streamB);
    expect(streamA).not.toEqual(streamC);
  });

  it('refuses seeds that are not 32-bit unsigned integers', () => {
    expect(() => new Random(-1)).toThrow(/seed/);
    expect(() => new Random(1.5)).toThrow(/seed/);
    expect(() => new Random(2 ** 32)).toThrow(/seed/);
  });

  it('draws floats in [0, 1) with mean near 1/2', () => {
    const rng = new Random(7);
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = rng.float();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      sum += x;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
  });

  it('draws every integer of an inclusive range about equally often', () => {
    const rng = new Random(1);
    const counts = new Array(7).fill(0);
    const n = 70000;
    for (let i = 0; i < n; i++) counts[rng.int(0, 6)]++;
    for (const count of counts) expect(Math.abs(count - n / 7)).toBeLessThan(0.05 * (n / 7));
  });

  it('draws integers as the plain modulo rejection rule does, for every span', () => {
    // The rule int() implements without `%` on large numbers: the same stream must come out.
    const reference = (rng: Random, low: number, high: number) => {
      const span = high - low + 1;
      const limit = 2 ** 32 - (2 ** 32 % span);
      let draw = rng.uint32();
      while (draw >= limit) draw = rng.uint32();
      return low + (draw % span);
    };
    for (const span of [
      1,
      2,
      3,
      7,
      40,
      1000,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 31 + 5,
      2 ** 32 - 1,
      2 ** 32,
    ]) {
      const [a, b] = [new Random(span % 97), new Random(span % 97)];
      for (let i = 0; i < 2000; i++) expect(a.int(-3, span - 4)).toBe(reference(b, -3, span - 4));
    }
  });

  it('samples k distinct items and shuffles to a permutation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 30 }),
        (seed, k) => {
          const items = Array.from({ length: 30 }, (_, i) => i);
          const picked = new Random(seed).sample(items, k);
          expect(new Set(picked).size).toBe(k);
          const shuffled = new Random(seed).shuffle(items.slice());
          expect(shuffled.slice().sort((x, y) => x - y)).toEqual(items);
        },
      ),
    );
  });

  it('draws Beta(a, a) with the right mean and variance', () => {
    const rng = new Random(3);
    for (const alpha of [0.2, 0.8, 1, 2]) {
      const n = 20000;
      const draws = Array.from({ length: n }, () => rng.beta(alpha, alpha));
      const mean = draws.reduce((s, x) => s + x, 0) / n;
      const variance = draws.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
      const expectedVariance = 1 / (4 * (2 * alpha + 1));
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
      expect(Math.abs(variance - expectedVariance) / expectedVariance).toBeLessThan(0.05);
      for (const x of draws) expect(x >= 0 && x <= 1).toBe(true);
    }
  });

  it('derives stable, label-dependent sub-seeds', () => {
    expect(deriveSeed(5, 'mask', 0)).toBe(deriveSeed(5, 'mask', 0));
    expect(deriveSeed(5, 'mask', 0)).not.toBe(deriveSeed(5, 'mask', 1));
    expect(new Random(5).fork('a').uint32()).not.toBe(new Random(5).fork('b').uint32());
  });
});
