/**
 * Simulated experiments with a known truth, for the coverage of the hierarchical bootstrap
 * (the coverage test and `npm run bench -- bootstrap-coverage`).
 *
 * The population: a trained classifier is right on a test image with probability
 * skill(seed) · easiness(image). Easiness ~ Beta over the image population (most images
 * easy for every seed, a few hard for all); skill ~ Beta over training seeds (each seed's
 * classifier has its own true accuracy). The population accuracy, what a config's
 * interval should cover, is then exactly E[skill] · E[easiness].
 */
import type { Random } from '@masksweep/random';
import { hierarchicalBootstrap } from './hierarchical.js';
import type { SeedPredictions, TestSet } from './seed-groups.js';
import { meanInterval } from './statistics.js';

export interface Population {
  /** Mean easiness of an image. */
  easinessMean: number;
  /** a + b of the easiness Beta: small means U-shaped (images easy or hard for all seeds). */
  easinessConcentration: number;
  /** Mean skill of a training seed. */
  skillMean: number;
  /** Standard deviation of skill across training seeds: the seed effect. */
  skillSd: number;
  /** Share of positive images (labels only; accuracy does not depend on it). */
  prevalence: number;
}

/**
 * The model of the coverage test, fixed before any coverage was measured: accuracy 0.855
 * (the region of the paper's Table 7), a U-shaped image easiness (Beta(1.8, 0.2)) and a
 * seed-to-seed standard deviation of skill of 0.02 (about 1.8 points of accuracy).
 */
export const STUDY_POPULATION: Population = {
  easinessMean: 0.9,
  easinessConcentration: 2,
  skillMean: 0.95,
  skillSd: 0.02,
  prevalence: 0.3,
};

/** The population accuracy: E[skill] · E[easiness] (independent draws). */
export function trueAccuracy(population: Population): number {
  return population.skillMean * population.easinessMean;
}

export interface Design {
  seeds: number;
  images: number;
  /** 'per-seed': each seed tested on its own draw of images; 'shared': one draw for all. */
  testSet: TestSet;
}

/** One simulated config: a skill per seed, images per the design, and the predictions. */
export function simulateExperiment(
  population: Population,
  design: Design,
  rng: Random,
): SeedPredictions[] {
  const easiness = () => betaOfMean(rng, population.easinessMean, population.easinessConcentration);
  const skillConcentration =
    (population.skillMean * (1 - population.skillMean)) / population.skillSd ** 2 - 1;
  const drawImages = () =>
    Array.from({ length: design.images }, (_, i) => ({
      id: `image-${i}`,
      label: rng.float() < population.prevalence ? 1 : 0,
      easiness: easiness(),
    }));
  const shared = design.testSet === 'shared' ? drawImages() : undefined;
  return Array.from({ length: design.seeds }, (_, seed) => {
    const skill = betaOfMean(rng, population.skillMean, skillConcentration);
    const images = shared ?? drawImages();
    return {
      seed,
      sampleIds: images.map((image) => image.id),
      labels: images.map((image) => image.label),
      predictions: images.map((image) =>
        rng.float() < skill * image.easiness ? image.label : 1 - image.label,
      ),
    };
  });
}

export interface Coverage {
  /** Share of experiments whose interval holds the true accuracy. */
  coverage: number;
  /** Share whose interval lies wholly below the truth (the rest of the misses lie above). */
  missedLow: number;
  meanWidth: number;
  experiments: number;
  /** Per experiment, whether its interval held the truth (to pair two methods' runs). */
  covered: boolean[];
}

export interface CoverageRun {
  population: Population;
  /** How the simulated data are made. */
  design: Design;
  /** How the bootstrap resamples images (the data's design unless testing a mismatch). */
  assumedTestSet?: TestSet;
  experiments: number;
  resamples: number;
  rng: Random;
}

/** Coverage of the hierarchical bootstrap's interval of the mean accuracy over seeds. */
export function bootstrapCoverage(run: CoverageRun): Coverage {
  const truth = trueAccuracy(run.population);
  return coverageOf(run, truth, (groups, rng) => {
    const { low, high } = hierarchicalBootstrap(groups, 'accuracy', {
      resamples: run.resamples,
      rng,
      testSet: run.assumedTestSet ?? run.design.testSet,
    });
    return { low, high };
  });
}

/** Coverage of the Student-t interval over the seeds' accuracies (what the summary used). */
export function studentCoverage(run: CoverageRun): Coverage {
  const truth = trueAccuracy(run.population);
  return coverageOf(run, truth, (groups) => {
    const accuracies = groups.map(
      (group) =>
        group.labels.filter((label, i) => group.predictions[i] === label).length /
        group.labels.length,
    );
    return meanInterval(accuracies);
  });
}

function coverageOf(
  run: CoverageRun,
  truth: number,
  interval: (groups: SeedPredictions[], rng: Random) => { low: number; high: number },
): Coverage {
  const covered: boolean[] = [];
  let below = 0;
  let width = 0;
  // Forks by experiment: two runs from equal generators see the same simulated data.
  for (let e = 0; e < run.experiments; e++) {
    const groups = simulateExperiment(run.population, run.design, run.rng.fork('data', e));
    const { low, high } = interval(groups, run.rng.fork('bootstrap', e));
    covered.push(low <= truth && truth <= high);
    if (high < truth) below += 1;
    width += high - low;
  }
  return {
    coverage: covered.filter(Boolean).length / run.experiments,
    missedLow: below / run.experiments,
    meanWidth: width / run.experiments,
    experiments: run.experiments,
    covered,
  };
}

function betaOfMean(rng: Random, mean: number, concentration: number): number {
  return rng.beta(mean * concentration, (1 - mean) * concentration);
}
