import { Random } from '@masksweep/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  hierarchicalBootstrap,
  hierarchicalBootstrapMetrics,
  pairedHierarchicalDifference,
  pairedHierarchicalDifferences,
} from './hierarchical.js';
import { type MetricName, metricOf } from './metrics.js';
import type { SeedPredictions, TestSet } from './seed-groups.js';
import { bootstrapInterval, pairedBootstrapDifference } from './statistics.js';

/** `n` images with random labels (30 % positive), shared by every seed of a test. */
function testImages(n: number, rng: Random): { ids: string[]; labels: number[] } {
  const labels = Array.from({ length: n }, () => (rng.float() < 0.3 ? 1 : 0));
  return { ids: labels.map((_, i) => `image-${i}`), labels };
}

/** A seed's run on `images`, each right with probability `accuracy`. */
function seedRun(
  seed: number,
  images: { ids: string[]; labels: number[] },
  accuracy: number,
  rng: Random,
): SeedPredictions {
  return {
    seed,
    sampleIds: images.ids,
    labels: images.labels,
    predictions: images.labels.map((label) => (rng.float() < accuracy ? label : 1 - label)),
  };
}

/** The same run with its images in another order. */
function shuffled(group: SeedPredictions, rng: Random): SeedPredictions {
  const order = rng.shuffle([...group.labels.keys()]);
  return {
    seed: group.seed,
    sampleIds: order.map((i) => group.sampleIds?.[i] as string),
    labels: order.map((i) => group.labels[i] as number),
    predictions: order.map((i) => group.predictions[i] as number),
  };
}

const DESIGNS: TestSet[] = ['per-seed', 'shared'];

describe('hierarchicalBootstrap', () => {
  it('with one seed, is the bootstrap over its images: the same draws as bootstrapInterval', () => {
    const rng = new Random(1);
    const group = seedRun(7, testImages(120, rng), 0.8, rng);
    for (const metric of ['f1', 'accuracy', 'macroRecall'] as MetricName[]) {
      const reference = bootstrapInterval(group.labels, group.predictions, metricOf(metric), {
        resamples: 500,
        rng: new Random(3),
      });
      for (const testSet of DESIGNS) {
        const interval = hierarchicalBootstrap([group], metric, {
          resamples: 500,
          rng: new Random(3),
          testSet,
        });
        expect({ estimate: interval.estimate, low: interval.low, high: interval.high }).toEqual(
          reference,
        );
        expect(interval.perSeed).toEqual([{ seed: 7, value: reference.estimate, images: 120 }]);
      }
    }
  });

  it('is the mean over seeds of the per-seed metric, and the same again from the same seed', () => {
    const rng = new Random(2);
    const images = testImages(80, rng);
    const groups = [0.7, 0.8, 0.9].map((accuracy, seed) => seedRun(seed, images, accuracy, rng));
    const run = (seed: number) =>
      hierarchicalBootstrap(groups, 'f1', {
        resamples: 300,
        rng: new Random(seed),
        testSet: 'shared',
      });
    const interval = run(5);
    const perSeed = groups.map((group) => metricOf('f1')(group.labels, group.predictions));
    expect(interval.perSeed.map((seed) => seed.value)).toEqual(perSeed);
    expect(interval.estimate).toBeCloseTo(perSeed.reduce((sum, value) => sum + value, 0) / 3, 15);
    expect(interval.low).toBeLessThan(interval.estimate);
    expect(interval.high).toBeGreaterThan(interval.estimate);
    expect(interval).toMatchObject({ resamples: 300, confidence: 0.95 });
    expect(run(5)).toEqual(interval);
    expect(run(6).low).not.toBe(interval.low);
  });

  it('adds the spread between seeds to the spread of images within them', () => {
    // Five seeds of 100 images with accuracies 0.70, 0.75, ..., 0.90. A resample's mean is the
    // mean of 5 draws of (a seed's accuracy + image noise of variance a(1 − a)/100), so its
    // variance is (0.005 + 0.00155) / 5: the spread of the accuracies (divisor 5) plus the
    // mean binomial variance 0.155/100, over 5. Either part alone is off by 13 % or more.
    const groups = [70, 75, 80, 85, 90].map((correct, seed) => ({
      seed,
      labels: new Array<number>(100).fill(1),
      predictions: Array.from({ length: 100 }, (_, i) => (i < correct ? 1 : 0)),
    }));
    const interval = hierarchicalBootstrap(groups, 'accuracy', {
      resamples: 3000,
      rng: new Random(4),
      testSet: 'per-seed',
    });
    const expected = Math.sqrt((0.005 + 0.00155) / 5);
    expect(Math.abs(interval.standardError / expected - 1)).toBeLessThan(0.04);
  });

  it('with a shared test set, counts seeds that agree on every image as one test set', () => {
    const rng = new Random(5);
    const group = seedRun(0, testImages(150, rng), 0.85, rng);
    const copies = [0, 1, 2, 3].map((seed) => ({ ...group, seed }));
    const se = (groups: SeedPredictions[], testSet: TestSet) =>
      hierarchicalBootstrap(groups, 'accuracy', { resamples: 3000, rng: new Random(6), testSet })
        .standardError;
    const single = se([group], 'shared');
    // Shared: four copies are still one draw of 150 images. Per seed: four independent draws.
    expect(Math.abs(se(copies, 'shared') / single - 1)).toBeLessThan(0.06);
    expect(Math.abs((se(copies, 'per-seed') * 2) / single - 1)).toBeLessThan(0.08);
  });

  it('pairs the seeds of a shared test set by sample id, whatever their order', () => {
    const rng = new Random(8);
    const images = testImages(60, rng);
    const groups = [0, 1, 2].map((seed) => seedRun(seed, images, 0.75, rng));
    const reordered = groups.map((group, i) => (i === 0 ? group : shuffled(group, rng)));
    const options = () => ({ resamples: 200, rng: new Random(9), testSet: 'shared' as const });
    expect(hierarchicalBootstrap(reordered, 'recall', options())).toEqual(
      hierarchicalBootstrap(groups, 'recall', options()),
    );
  });

  it('keeps every interval within [0, 1]', () => {
    const groupsArbitrary = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 25 }), fc.nat())
      .map(([seeds, n, seed]) => {
        const rng = new Random(seed);
        return Array.from({ length: seeds }, (_, s) => ({
          seed: s,
          labels: Array.from({ length: n }, () => rng.int(0, 2)),
          predictions: Array.from({ length: n }, () => rng.int(0, 2)),
        }));
      });
    const metrics: MetricName[] = ['accuracy', 'precision', 'recall', 'f1', 'macroF1'];
    fc.assert(
      fc.property(groupsArbitrary, fc.constantFrom(...metrics), (groups, metric) => {
        const interval = hierarchicalBootstrap(groups, metric, {
          resamples: 40,
          rng: new Random(1),
          numClasses: 3,
          testSet: 'per-seed',
        });
        expect(interval.low).toBeGreaterThanOrEqual(0);
        expect(interval.high).toBeLessThanOrEqual(1);
        expect(interval.low).toBeLessThanOrEqual(interval.high);
        expect(interval.standardError).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 60 },
    );
  });

  it('names the group, field and seed of what it rejects', () => {
    const ok = { seed: 1, labels: [0, 1], predictions: [0, 1] };
    const options = { rng: new Random(1), resamples: 10, testSet: 'per-seed' as const };
    const rejects = (groups: unknown[], pattern: RegExp, extra: object = {}) =>
      expect(() =>
        hierarchicalBootstrap(groups as SeedPredictions[], 'f1', { ...options, ...extra }),
      ).toThrow(pattern);
    rejects([], /^groups: needs at least one seed/);
    rejects([ok, ok], /^groups\[1\]\.seed: repeats seed 1/);
    rejects([{ ...ok, seed: -1 }], /^groups\[0\]\.seed: must be an integer >= 0/);
    rejects([{ ...ok, labels: [], predictions: [] }], /^groups\[0\]\.labels: needs at least one/);
    rejects(
      [{ ...ok, predictions: [0] }],
      /^groups\[0\]\.predictions: has 1 entries for 2 labels \(seed 1\)/,
    );
    rejects(
      [{ ...ok, labels: [0, 2] }],
      /^groups\[0\]\.labels\[1\]: must be a class index in \[0, 1\], got 2/,
    );
    rejects([{ ...ok, sampleIds: ['a', 'a'] }], /^groups\[0\]\.sampleIds\[1\]: repeats sample "a"/);
    rejects([{ ...ok, sampleIds: ['a'] }], /^groups\[0\]\.sampleIds: has 1 entries for 2 labels/);
    rejects([ok], /^testSet: must be 'per-seed' or 'shared', got undefined/, {
      testSet: undefined,
    });
    rejects([ok], /^resamples:/, { resamples: 1 });
    rejects([ok], /^confidence:/, { confidence: 1 });
    rejects([ok], /^rng: needs a seeded Random/, { rng: undefined });
    const shared = { testSet: 'shared' };
    const a = { ...ok, sampleIds: ['x', 'y'] };
    rejects(
      [a, { ...a, seed: 2, sampleIds: ['x', 'z'] }],
      /^groups\[1\]\.sampleIds: seed 2 has no sample "y", which seed 1 \(the test set is shared\) has/,
      shared,
    );
    rejects(
      [a, { ...a, seed: 2, labels: [0, 0] }],
      /^groups\[1\]\.labels\[1\]: sample "y" has label 0 in seed 2 and 1 in seed 1/,
      shared,
    );
    rejects(
      [a, { ...ok, seed: 2 }],
      /^groups\[1\]\.sampleIds: are missing in seed 2 but given in seed 1/,
      shared,
    );
    rejects(
      [ok, { ...ok, seed: 2, labels: [0], predictions: [0] }],
      /^groups\[1\]\.labels: seed 2 has 1 test images, seed 1 .* has 2/,
      shared,
    );
  });
});

describe('hierarchicalBootstrapMetrics', () => {
  it('gives each metric the interval hierarchicalBootstrap gives it from the same generator', () => {
    const rng = new Random(11);
    const images = testImages(60, rng);
    const groups = [0.75, 0.85, 0.8].map((accuracy, seed) => seedRun(seed, images, accuracy, rng));
    const metrics: MetricName[] = ['accuracy', 'precision', 'recall', 'f1', 'macroF1'];
    for (const testSet of DESIGNS) {
      const together = hierarchicalBootstrapMetrics(groups, metrics, {
        resamples: 400,
        rng: new Random(4),
        testSet,
      });
      for (const metric of metrics) {
        const alone = hierarchicalBootstrap(groups, metric, {
          resamples: 400,
          rng: new Random(4),
          testSet,
        });
        expect(together[metric]).toEqual(alone);
      }
    }
    expect(() =>
      hierarchicalBootstrapMetrics(groups, [], { rng: new Random(1), testSet: 'shared' }),
    ).toThrow(/metrics/);
  });
});

describe('pairedHierarchicalDifferences', () => {
  it('gives each config against the reference what the pairwise call gives, on the same draws', () => {
    const rng = new Random(12);
    const images = testImages(50, rng);
    const run = (accuracy: number) =>
      [0, 1, 2].map((seed) => shuffled(seedRun(seed, images, accuracy, rng), rng));
    const reference = run(0.7);
    const configs = [run(0.8), run(0.9), run(0.65)];
    for (const testSet of DESIGNS) {
      const options = { resamples: 300, testSet, rng: new Random(6) };
      const together = pairedHierarchicalDifferences(configs, reference, 'f1', options);
      configs.forEach((config, k) => {
        // R − X from the pairwise call, negated: X − R.
        const pairwise = pairedHierarchicalDifference(reference, config, 'f1', {
          ...options,
          rng: new Random(6),
        });
        const mine = together[k];
        expect(mine?.estimate).toBeCloseTo(-pairwise.estimate, 14);
        expect(mine?.low).toBeCloseTo(-pairwise.high, 14);
        expect(mine?.high).toBeCloseTo(-pairwise.low, 14);
        expect(mine?.pValue).toBe(pairwise.pValue);
        expect(mine?.standardError).toBeCloseTo(pairwise.standardError, 14);
        expect(mine?.perSeed.map((seed) => [seed.a, seed.b])).toEqual(
          pairwise.perSeed.map((seed) => [seed.b, seed.a]),
        );
        // Alone, the same numbers: the draws do not depend on the others compared.
        const alone = pairedHierarchicalDifferences([config], reference, 'f1', {
          ...options,
          rng: new Random(6),
        });
        expect(alone[0]).toEqual(mine);
      });
    }
    expect(() =>
      pairedHierarchicalDifferences([], reference, 'f1', {
        rng: new Random(1),
        testSet: 'shared',
      }),
    ).toThrow(/groups/);
    expect(() =>
      pairedHierarchicalDifferences([reference.slice(1)], reference, 'f1', {
        rng: new Random(1),
        testSet: 'shared',
      }),
    ).toThrow(/seed 0/);
  });
});

describe('pairedHierarchicalDifference', () => {
  /** Configs A and B on the same seeds and images. */
  function pair(seeds: number, n: number, accuracyA: number, accuracyB: number, seed: number) {
    const rng = new Random(seed);
    const images = testImages(n, rng);
    const a = Array.from({ length: seeds }, (_, s) => seedRun(s, images, accuracyA, rng));
    const b = Array.from({ length: seeds }, (_, s) => seedRun(s, images, accuracyB, rng));
    return { a, b };
  }

  it('with one seed, is pairedBootstrapDifference (the same draws)', () => {
    const { a, b } = pair(1, 150, 0.85, 0.75, 1);
    const groupA = a[0] as SeedPredictions;
    const reference = pairedBootstrapDifference(
      groupA.labels,
      groupA.predictions,
      (b[0] as SeedPredictions).predictions,
      metricOf('f1'),
      { resamples: 400, rng: new Random(2) },
    );
    for (const testSet of DESIGNS) {
      const difference = pairedHierarchicalDifference(a, b, 'f1', {
        resamples: 400,
        rng: new Random(2),
        testSet,
      });
      expect(difference.estimate).toBeCloseTo(reference.estimate, 15);
      expect(difference.low).toBeCloseTo(reference.low, 15);
      expect(difference.high).toBeCloseTo(reference.high, 15);
      expect(difference.a - difference.b).toBeCloseTo(difference.estimate, 15);
    }
  });

  it('of a config with itself is 0 with p-value 1', () => {
    const { a } = pair(3, 50, 0.8, 0.8, 3);
    const same = pairedHierarchicalDifference(a, a, 'f1', {
      resamples: 200,
      rng: new Random(1),
      testSet: 'shared',
    });
    expect(same).toMatchObject({ estimate: 0, low: 0, high: 0, standardError: 0, pValue: 1 });
    expect(same.detectableDifference).toBe(0);
  });

  it('of B against A mirrors A against B', () => {
    const { a, b } = pair(3, 80, 0.85, 0.8, 4);
    for (const testSet of DESIGNS) {
      const options = () => ({ resamples: 300, rng: new Random(5), testSet });
      const ab = pairedHierarchicalDifference(a, b, 'accuracy', options());
      const ba = pairedHierarchicalDifference(b, a, 'accuracy', options());
      expect(ba.estimate).toBeCloseTo(-ab.estimate, 15);
      expect(ba.low).toBeCloseTo(-ab.high, 15);
      expect(ba.high).toBeCloseTo(-ab.low, 15);
      expect(ba.pValue).toBe(ab.pValue);
      expect(ba.perSeed.map((seed) => seed.difference)).toEqual(
        ab.perSeed.map((seed) => -seed.difference),
      );
    }
  });

  it('gives the smallest p-value, 2/(resamples + 1), when A wins every resample', () => {
    const { a } = pair(3, 60, 0.7, 0.7, 6);
    const perfect = a.map((group) => ({ ...group, predictions: group.labels }));
    const difference = pairedHierarchicalDifference(perfect, a, 'accuracy', {
      resamples: 999,
      rng: new Random(7),
      testSet: 'per-seed',
    });
    expect(difference.low).toBeGreaterThan(0);
    expect(difference.pValue).toBe(2 / 1000);
  });

  it('has p <= 0.05 only when the 95 % interval excludes 0', () => {
    // With 1999 resamples, p <= 0.05 means at most 49 resampled differences on one side of
    // 0, so the 2.5 % quantile (between the 50th and 51st) is past 0 too.
    fc.assert(
      fc.property(fc.nat(), fc.double({ min: 0, max: 0.15, noNaN: true }), (seed, gap) => {
        const { a, b } = pair(3, 40, 0.8, 0.8 - gap, seed);
        const difference = pairedHierarchicalDifference(a, b, 'f1', {
          resamples: 1999,
          rng: new Random(seed),
          testSet: 'shared',
        });
        if (difference.pValue <= 0.05) {
          expect(difference.low > 0 || difference.high < 0).toBe(true);
        }
        if (difference.low > 0 || difference.high < 0) {
          expect(difference.pValue).toBeLessThanOrEqual(0.052);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('states the detectable difference as 2.8 standard errors at 95 % and 80 % power', () => {
    const { a, b } = pair(3, 100, 0.85, 0.8, 8);
    const options = { resamples: 500, rng: new Random(9), testSet: 'shared' as const };
    const difference = pairedHierarchicalDifference(a, b, 'f1', options);
    expect(difference.standardError).toBeGreaterThan(0);
    expect(difference.detectableDifference / difference.standardError).toBeCloseTo(2.8016, 4);
    const powerful = pairedHierarchicalDifference(a, b, 'f1', {
      ...options,
      rng: new Random(9),
      power: 0.9,
    });
    expect(powerful.detectableDifference / powerful.standardError).toBeCloseTo(3.2415, 4);
  });

  it("pairs B's seeds and images with A's by seed and sample id, whatever their order", () => {
    const { a, b } = pair(3, 40, 0.85, 0.8, 10);
    const rng = new Random(11);
    const reorderedB = [b[2], b[0], b[1]].map((group) => shuffled(group as SeedPredictions, rng));
    for (const testSet of DESIGNS) {
      const options = () => ({ resamples: 200, rng: new Random(12), testSet });
      expect(pairedHierarchicalDifference(a, reorderedB, 'f1', options())).toEqual(
        pairedHierarchicalDifference(a, b, 'f1', options()),
      );
    }
  });

  it('names what differs between the two configs', () => {
    const { a, b } = pair(2, 3, 0.8, 0.8, 13);
    const options = { rng: new Random(1), resamples: 10, testSet: 'per-seed' as const };
    const rejects = (groupsB: unknown[], pattern: RegExp) =>
      expect(() =>
        pairedHierarchicalDifference(a, groupsB as SeedPredictions[], 'f1', options),
      ).toThrow(pattern);
    const [b0, b1] = b as [SeedPredictions, SeedPredictions];
    rejects(
      [b0],
      /^groupsB: has no seed 1 \(groupsA has seeds 0, 1; a paired comparison needs the same seeds\)/,
    );
    rejects(
      [b0, b1, { ...b1, seed: 5 }],
      /^groupsB\[2\]\.seed: seed 5 is not in groupsA \(seeds 0, 1\)/,
    );
    rejects(
      [b0, { ...b1, sampleIds: ['image-0', 'image-1', 'other'] }],
      /^groupsB\[1\]\.sampleIds: groupsB \(seed 1\) has no sample "image-2", which groupsA has/,
    );
    const flipped = b1.labels.map((label, i) => (i === 0 ? 1 - label : label));
    rejects(
      [b0, { ...b1, labels: flipped }],
      /^groupsB\[1\]\.labels\[0\]: sample "image-0" has label \d in groupsB \(seed 1\) and \d in groupsA/,
    );
    rejects(
      [b0, { ...b1, sampleIds: undefined }],
      /^groupsB\[1\]\.sampleIds: are missing in groupsB \(seed 1\) but given in groupsA/,
    );
    rejects(
      [b0, { ...b1, labels: [0], predictions: [0], sampleIds: ['image-0'] }],
      /^groupsB\[1\]\.labels: groupsB \(seed 1\) has 1 test images, groupsA has 3/,
    );
  });
});
