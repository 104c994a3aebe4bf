import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Sample } from './labels.js';
import { SPLIT_NAMES, type SplitFractions, splitDataset } from './split.js';

function samples(perLabel: number[], groupSize?: number): Sample[] {
  return perLabel.flatMap((count, label) =>
    Array.from({ length: count }, (_, i) => {
      const id = `images/${label}/${String(i).padStart(4, '0')}.png`;
      const sample: Sample = { id, path: `/data/${id}`, label };
      if (groupSize) sample.group = `patient-${label}-${Math.floor(i / groupSize)}`;
      return sample;
    }),
  );
}

const ids = (list: Sample[]) => list.map((sample) => sample.id);

const fractionsArbitrary = fc
  .tuple(
    fc.integer({ min: 0, max: 20 }),
    fc.integer({ min: 0, max: 20 }),
    fc.integer({ min: 0, max: 20 }),
  )
  .filter(([a, b, c]) => a + b + c > 0)
  .map(
    ([a, b, c]): SplitFractions => ({
      train: a / (a + b + c),
      val: b / (a + b + c),
      test: c / (a + b + c),
    }),
  );

describe('splitDataset', () => {
  it('puts every sample in exactly one split, each class within one sample of its share', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 4 }),
        fractionsArbitrary,
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (perLabel, fractions, seed) => {
          const all = samples(perLabel);
          const splits = splitDataset(all, { fractions, seed });
          expect(SPLIT_NAMES.flatMap((name) => ids(splits[name])).sort()).toEqual(ids(all).sort());
          perLabel.forEach((count, label) => {
            for (const name of SPLIT_NAMES) {
              const inSplit = splits[name].filter((sample) => sample.label === label).length;
              expect(Math.abs(inSplit - count * fractions[name])).toBeLessThan(1 + 1e-9);
            }
          });
        },
      ),
    );
  });

  it('keeps every group in a single split and stays near the wanted shares', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (groupSize, seed) => {
          const all = samples([90, 60], groupSize);
          const fractions = { train: 0.6, val: 0.2, test: 0.2 };
          const splits = splitDataset(all, { fractions, seed });
          const home = new Map<string, string>();
          for (const name of SPLIT_NAMES) {
            for (const sample of splits[name]) {
              const group = sample.group as string;
              expect(home.get(group) ?? name).toBe(name);
              home.set(group, name);
            }
          }
          for (const name of SPLIT_NAMES) {
            // Greedy filling by groups overshoots a share by less than one group per class.
            expect(Math.abs(splits[name].length - 150 * fractions[name])).toBeLessThanOrEqual(
              2 * groupSize,
            );
          }
        },
      ),
    );
  });

  it('stratifies groups by their majority label', () => {
    const member = (id: string, label: number, group: string): Sample => ({
      id,
      path: id,
      label,
      group,
    });
    // Group a is mostly label 1, so it is the only label-1 group and fills train's share of
    // that label alone; counted as label 0 it would share a bucket with b and push b to val.
    const all = [
      member('a1', 1, 'a'),
      member('a2', 1, 'a'),
      member('a3', 0, 'a'),
      member('b1', 0, 'b'),
    ];
    for (let seed = 0; seed < 20; seed++) {
      const splits = splitDataset(all, { fractions: { train: 0.7, val: 0.3, test: 0 }, seed });
      expect(ids(splits.train)).toEqual(['a1', 'a2', 'a3', 'b1']);
    }
    // Ten groups of each majority, split in halves: each half gets five of each kind.
    const mixed = Array.from({ length: 20 }, (_, g) => {
      const majority = g < 10 ? 1 : 0;
      return [
        member(`g${g}-1`, majority, `g${g}`),
        member(`g${g}-2`, majority, `g${g}`),
        member(`g${g}-3`, 1 - majority, `g${g}`),
      ];
    }).flat();
    for (let seed = 0; seed < 10; seed++) {
      const splits = splitDataset(mixed, { fractions: { train: 0.5, val: 0, test: 0.5 }, seed });
      const majorityOneGroups = new Set(
        splits.train.filter((s) => Number(s.group?.slice(1)) < 10).map((s) => s.group),
      );
      expect(majorityOneGroups.size).toBe(5);
      expect(splits.train).toHaveLength(30);
    }
  });

  it('gives the same split for the same seed whatever the input order, another for another seed', () => {
    const all = samples([40, 40]);
    const fractions = { train: 0.5, val: 0.25, test: 0.25 };
    const first = splitDataset(all, { fractions, seed: 11 });
    const reversed = splitDataset(all.slice().reverse(), { fractions, seed: 11 });
    const other = splitDataset(all, { fractions, seed: 12 });
    expect(reversed).toEqual(first);
    expect(ids(other.train)).not.toEqual(ids(first.train));
  });

  it('names the fraction that is wrong and its value', () => {
    const all = samples([4]);
    expect(() =>
      splitDataset(all, { fractions: { train: 0.8, val: -0.1, test: 0.3 }, seed: 1 }),
    ).toThrow('fractions.val must be a number >= 0, got -0.1');
    expect(() =>
      splitDataset(all, { fractions: { train: 0.8, val: 0.1, test: 0.2 }, seed: 1 }),
    ).toThrow(/fractions must sum to 1, got 1\.1.*fractions\.test = 0\.2/);
    expect(() =>
      splitDataset(all, { fractions: { train: 1, val: Number.NaN, test: 0 }, seed: 1 }),
    ).toThrow('fractions.val must be a number >= 0, got NaN');
  });
});
