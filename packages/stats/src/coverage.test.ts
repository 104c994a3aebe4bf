/**
 * The hierarchical bootstrap against simulated experiments with a known truth: how often
 * its 95 % interval holds the population accuracy (the model: simulation.test-support.ts).
 * The full table over 1-5 seeds and 20-100 images, with 1000 experiments per setting, is
 * `npm run bench -- bootstrap-coverage` and docs/statistics.md; this test runs the
 * realistic 5 seeds x 100 images with fewer experiments and resamples, to stay quick.
 */
import { Random } from '@masksweep/random';
import { describe, expect, it } from 'vitest';
import { binomialCdf } from './distributions.js';
import type { TestSet } from './seed-groups.js';
import {
  bootstrapCoverage,
  type Coverage,
  type Design,
  STUDY_POPULATION,
} from './simulation.test-support.js';

const EXPERIMENTS = 300;
// 400 resamples instead of the 2000 default: the 2.5 % and 97.5 % quantiles then rest on
// about 10 resamples each, which adds a little noise to each interval's ends, not a bias.
const RESAMPLES = 400;
// Three binomial standard deviations of the coverage of EXPERIMENTS intervals at 95 %.
const TOLERANCE = 3 * Math.sqrt((0.95 * 0.05) / EXPERIMENTS);

function coverage(design: Design, bootstrap: TestSet = design.testSet): Coverage {
  const result = bootstrapCoverage({
    population: STUDY_POPULATION,
    design,
    assumedTestSet: bootstrap,
    experiments: EXPERIMENTS,
    resamples: RESAMPLES,
    rng: new Random(2026).fork(design.testSet, design.seeds, design.images),
  });
  console.log(
    `${design.seeds} seeds x ${design.images} images, test set ${design.testSet}, resampled ${bootstrap}: coverage ${(100 * result.coverage).toFixed(1)} % of ${EXPERIMENTS} (95 ± ${(100 * TOLERANCE).toFixed(1)})`,
  );
  return result;
}

describe('coverage of the 95 % hierarchical bootstrap interval', () => {
  it('is 95 % within the binomial tolerance at 5 seeds x 100 images, each seed with its own images', () => {
    // 97.2 % with 1000 experiments in the bench: mildly conservative, within the tolerance.
    const { coverage: covered } = coverage({ seeds: 5, images: 100, testSet: 'per-seed' });
    expect(Math.abs(covered - 0.95)).toBeLessThan(TOLERANCE);
  });

  it('is not below 95 % at 5 seeds x 100 images sharing one test set', () => {
    // 98.1 % with 1000 experiments in the bench: resampling seeds and images independently
    // over-counts their interaction (Owen 2007), so only the lower side is asserted.
    const { coverage: covered } = coverage({ seeds: 5, images: 100, testSet: 'shared' });
    expect(covered).toBeGreaterThan(0.95 - TOLERANCE);
  });

  it('falls short when a shared test set is resampled as if each seed had its own', () => {
    // Images hard for every seed move all seeds' accuracies together; drawing images per
    // seed averages that away. On the same experiments, count those only one method covers.
    const design: Design = { seeds: 5, images: 40, testSet: 'shared' };
    const shared = coverage(design).covered;
    const perSeed = coverage(design, 'per-seed').covered;
    const onlyShared = shared.filter((hit, e) => hit && !perSeed[e]).length;
    const onlyPerSeed = perSeed.filter((hit, e) => hit && !shared[e]).length;
    expect(onlyShared).toBeGreaterThan(onlyPerSeed);
    // McNemar's exact test of "equally often right" on those discordant experiments.
    const pValue = 2 * binomialCdf(onlyPerSeed, onlyShared + onlyPerSeed, 0.5);
    expect(pValue).toBeLessThan(0.001);
    expect(perSeed.filter(Boolean).length / EXPERIMENTS).toBeLessThan(0.95);
  });
});
