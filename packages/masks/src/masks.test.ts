import { Random } from '@masksweep/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createMaskGenerator,
  type MaskGrid,
  type MaskSetting,
  maskedCount,
  maskTypes,
  parityClasses,
  resolveMaskSetting,
  smallestParityClass,
  toRows,
} from './index.js';

const G = 7;
const seedArb = fc.integer({ min: 0, max: 2 ** 32 - 1 });

function draw(setting: MaskSetting, count: number, seed: number, gridSize = G): MaskGrid[] {
  return createMaskGenerator(setting, gridSize).generate(count, new Random(seed));
}

function visibleCells(mask: MaskGrid): number[] {
  return [...mask.keys()].filter((i) => mask[i] === 0);
}

describe.each<MaskSetting>([
  { type: 'random', ratio: 0.6 },
  { type: 'mesh', ratio: 0.6 },
  { type: 'square', size: 3 },
  { type: 'blockwise', ratio: 0.6 },
])('$type mask under a seed', (setting) => {
  it('is the same for the same seed and differs for another', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const masks = draw(setting, 16, seed);
        expect(draw(setting, 16, seed)).toEqual(masks);
        expect(draw(setting, 16, (seed ^ 1) >>> 0)).not.toEqual(masks);
      }),
      { numRuns: 30 },
    );
  });
});

describe('registry', () => {
  it('has the four patterns of the study', () => {
    expect(maskTypes().sort()).toEqual(['blockwise', 'mesh', 'random', 'square']);
  });

  it('names the field of a bad setting', () => {
    expect(() => resolveMaskSetting({ type: 'checker', ratio: 0.5 }, G)).toThrow(
      /type: unknown mask type 'checker'.*random, mesh/,
    );
    expect(() => resolveMaskSetting({ type: 'random', ratio: 1.2 }, G)).toThrow(
      /^ratio: must be a number strictly between 0 and 1/,
    );
    expect(() => resolveMaskSetting({ type: 'random', ratio: 0.5, parityRule: 'x' }, G)).toThrow(
      /^parityRule: not an option of mask type 'random'/,
    );
    expect(() => resolveMaskSetting({ type: 'mesh', ratio: 0.5, overflow: 'ignore' }, G)).toThrow(
      /^overflow:/,
    );
    expect(() => resolveMaskSetting({ type: 'square', size: 8 }, G)).toThrow(
      /^size: square of 8x8 patches/,
    );
  });

  it('fills in defaults', () => {
    expect(resolveMaskSetting({ type: 'mesh', ratio: 0.6 }, G)).toEqual({
      type: 'mesh',
      ratio: 0.6,
      rounding: 'halfEven',
      overflow: 'error',
      parityChoice: 'perImage',
      parityRule: 'checkerboard',
    });
  });
});

describe.each(['random', 'mesh'])('%s mask', (type) => {
  it.each([
    [0.5, 24],
    [0.6, 20],
    [0.7, 15],
    [0.8, 10],
  ])('at ratio %f keeps %i of 49 patches visible', (ratio, visible) => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        for (const mask of draw({ type, ratio }, 8, seed))
          expect(49 - maskedCount(mask)).toBe(visible);
      }),
      { numRuns: 50 },
    );
  });
});

describe('random mask', () => {
  it('keeps the rounded share 1 - r of any grid visible', () => {
    fc.assert(
      fc.property(
        seedArb,
        fc.integer({ min: 2, max: 12 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        (seed, g, ratio) => {
          const setting = { type: 'random', ratio };
          let mask: MaskGrid;
          try {
            mask = draw(setting, 1, seed, g)[0] as MaskGrid;
          } catch {
            return; // ratio that keeps none or masks none on this small grid: refused by check
          }
          const visible = g * g - maskedCount(mask);
          expect(Math.abs(visible - g * g * (1 - ratio))).toBeLessThanOrEqual(0.5);
          expect(visible).toBeGreaterThan(0);
          expect(visible).toBeLessThan(g * g);
        },
      ),
    );
  });

  it('puts every patch in the visible set about equally often', () => {
    const counts = new Array(49).fill(0);
    for (const mask of draw({ type: 'random', ratio: 0.6 }, 4000, 11))
      for (const c of visibleCells(mask)) counts[c]++;
    const expected = (4000 * 20) / 49;
    for (const c of counts) expect(Math.abs(c - expected) / expected).toBeLessThan(0.12);
  });
});

describe('mesh mask', () => {
  const [even, odd] = parityClasses(G, 'checkerboard');

  it("has parity classes of 25 and 24 cells on 7x7, equal to the paper's flat-index rule there", () => {
    expect(even).toHaveLength(25);
    expect(odd).toHaveLength(24);
    expect(parityClasses(G, 'flatIndex')).toEqual([even, odd]);
  });

  it('counts the smaller parity class arithmetically, as listing the cells would', () => {
    for (let gridSize = 1; gridSize <= 12; gridSize++) {
      for (const rule of ['checkerboard', 'flatIndex'] as const) {
        const sizes = parityClasses(gridSize, rule).map((c) => c.length);
        expect(smallestParityClass(gridSize)).toBe(Math.min(...sizes));
      }
    }
  });

  it('checks a ratio on a huge grid without a per-cell allocation (a Sweep could give one)', () => {
    const gridSize = 100_000_000 / 32;
    const before = process.memoryUsage().heapUsed;
    const started = performance.now();
    expect(() => resolveMaskSetting({ type: 'mesh', ratio: 0.4 }, gridSize)).toThrow(
      /parity class of the 3125000x3125000 grid has only 4882812500000 cells/,
    );
    expect(resolveMaskSetting({ type: 'mesh', ratio: 0.6 }, gridSize).ratio).toBe(0.6);
    expect(performance.now() - started).toBeLessThan(500);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50e6);
  });

  it('keeps visible cells of one parity only, never edge-adjacent', () => {
    fc.assert(
      fc.property(seedArb, fc.constantFrom(0.5, 0.6, 0.7, 0.8), (seed, ratio) => {
        for (const mask of draw({ type: 'mesh', ratio }, 8, seed)) {
          const parities = new Set(
            visibleCells(mask).map((c) => (Math.floor(c / G) + (c % G)) % 2),
          );
          expect(parities.size).toBe(1);
          for (const c of visibleCells(mask)) {
            const right = c % G < G - 1 ? c + 1 : -1;
            const below = c + G < G * G ? c + G : -1;
            if (right >= 0) expect(mask[right]).toBe(1);
            if (below >= 0) expect(mask[below]).toBe(1);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('chooses both parities about equally, per image or once per batch', () => {
    const parityOf = (mask: MaskGrid) =>
      ((c) => (Math.floor(c / G) + (c % G)) % 2)(visibleCells(mask)[0] as number);
    const perImage = draw({ type: 'mesh', ratio: 0.6 }, 4000, 5).map(parityOf);
    const share = perImage.filter((p) => p === 0).length / perImage.length;
    expect(share).toBeGreaterThan(0.47);
    expect(share).toBeLessThan(0.53);

    const batchParities: number[] = [];
    const generator = createMaskGenerator(
      { type: 'mesh', ratio: 0.6, parityChoice: 'perBatch' },
      G,
    );
    const rng = new Random(9);
    for (let b = 0; b < 400; b++) {
      const parities = new Set(generator.generate(8, rng).map(parityOf));
      expect(parities.size).toBe(1);
      batchParities.push(...parities);
    }
    const batchShare = batchParities.filter((p) => p === 0).length / batchParities.length;
    expect(batchShare).toBeGreaterThan(0.42);
    expect(batchShare).toBeLessThan(0.58);
  });

  it('refuses ratios under 0.5 unless told how to overflow', () => {
    expect(() => resolveMaskSetting({ type: 'mesh', ratio: 0.4 }, G)).toThrow(
      /keeps 29 patches visible but a parity class .* only 24/,
    );
    // half-up rounding at 0.5 keeps 25, which the odd class (24) cannot hold
    expect(() => resolveMaskSetting({ type: 'mesh', ratio: 0.5, rounding: 'halfUp' }, G)).toThrow(
      /keeps 25/,
    );
    for (const mask of draw({ type: 'mesh', ratio: 0.4, overflow: 'clamp' }, 50, 1)) {
      expect([24, 25]).toContain(49 - maskedCount(mask));
    }
    for (const mask of draw({ type: 'mesh', ratio: 0.4, overflow: 'fillOther' }, 50, 1)) {
      expect(49 - maskedCount(mask)).toBe(29);
    }
  });

  it('gives stripes with the literal flat-index rule on an even grid', () => {
    const [stripeEven] = parityClasses(8, 'flatIndex');
    expect(stripeEven?.every((c) => (c % 8) % 2 === 0)).toBe(true);
  });

  it('works on a 2x2 grid (64 px input)', () => {
    for (const mask of draw({ type: 'mesh', ratio: 0.5 }, 20, 3, 2)) {
      expect(maskedCount(mask)).toBe(2);
      expect([
        [0, 1, 1, 0],
        [1, 0, 0, 1],
      ]).toContainEqual(Array.from(mask));
    }
  });
});

describe('square mask', () => {
  it('masks one k x k block anywhere it fits', () => {
    fc.assert(
      fc.property(
        seedArb,
        fc.integer({ min: 3, max: 12 }),
        fc.integer({ min: 1, max: 11 }),
        (seed, g, k) => {
          fc.pre(k < g);
          const [mask] = draw({ type: 'square', size: k }, 1, seed, g) as [MaskGrid];
          const masked = [...mask.keys()].filter((i) => mask[i] === 1);
          const rows = masked.map((c) => Math.floor(c / g));
          const cols = masked.map((c) => c % g);
          expect(masked).toHaveLength(k * k);
          expect(Math.max(...rows) - Math.min(...rows)).toBe(k - 1);
          expect(Math.max(...cols) - Math.min(...cols)).toBe(k - 1);
        },
      ),
    );
  });

  it('reaches every position where the square fits, and centres on request', () => {
    for (const k of [2, 3, 4]) {
      const corners = new Set(draw({ type: 'square', size: k }, 2000, k).map((m) => m.indexOf(1)));
      expect(corners.size).toBe((G - k + 1) ** 2);
    }
    const [centred] = draw({ type: 'square', size: 3, placement: 'center' }, 1, 0) as [MaskGrid];
    expect(toRows(centred, G)[2]).toEqual([0, 0, 1, 1, 1, 0, 0]);
  });
});

describe('block-wise mask', () => {
  it.each([
    [0.4, 20],
    [0.6, 29],
    [0.8, 39],
  ])(
    'at ratio %f masks within one cell of %i on average on 7x7, touching every row and column',
    (ratio, target) => {
      const masks = draw({ type: 'blockwise', ratio }, 300, 17);
      const mean = masks.reduce((s, m) => s + maskedCount(m), 0) / masks.length;
      expect(Math.abs(mean - target)).toBeLessThanOrEqual(1);
      for (const m of masks) expect(maskedCount(m)).toBeLessThanOrEqual(target);
      const rowsHit = new Set<number>();
      const colsHit = new Set<number>();
      for (const m of masks)
        for (const c of m.keys()) {
          if (!m[c]) continue;
          rowsHit.add(Math.floor(c / G));
          colsHit.add(c % G);
        }
      expect(rowsHit.size).toBe(G);
      expect(colsHit.size).toBe(G);
    },
  );

  it('in the mmpretrain variant never touches the last row or column and refuses 80 % on 7x7', () => {
    for (const m of draw({ type: 'blockwise', ratio: 0.6, variant: 'mmpretrain' }, 200, 2)) {
      expect(maskedCount(m)).toBe(29);
      for (let i = 0; i < G; i++) {
        expect(m[(G - 1) * G + i]).toBe(0);
        expect(m[i * G + G - 1]).toBe(0);
      }
    }
    expect(() =>
      resolveMaskSetting({ type: 'blockwise', ratio: 0.8, variant: 'mmpretrain' }, G),
    ).toThrow(/at most 36 of 49/);
  });
});
