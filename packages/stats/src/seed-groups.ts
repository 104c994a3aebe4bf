/**
 * The input of the hierarchical bootstrap: one config's test predictions, one group per
 * training seed, checked and packed into typed arrays (a resample then reads integers, not
 * objects). Paired configs are aligned here: seed by seed, sample id by sample id.
 */
import { checkInteger, InvalidArgumentError } from './errors.js';

/** One training seed's predictions on its test images. */
export interface SeedPredictions {
  /** The training seed: it pairs the runs of two configs and names the group in errors. */
  seed: number;
  /**
   * One id per test image. They pair two configs' images (and, for a shared test set, the
   * seeds' images) by id; without them, images pair by position.
   */
  sampleIds?: readonly string[];
  labels: readonly number[];
  predictions: readonly number[];
}

/**
 * How the test images relate across seeds. 'per-seed': each seed was tested on its own
 * draw of images (the images of one seed say nothing about another's), so a resample
 * draws images independently within each drawn seed. 'shared': every seed was tested on
 * the same images (one split seed for all training seeds, as a masksweep Sweep does), so a
 * resample draws one set of images and applies it to every drawn seed.
 */
export type TestSet = 'per-seed' | 'shared';

/** A seed's data as the resampler reads it: labels and, per system compared, predictions. */
export interface PackedSeed {
  seed: number;
  labels: Int32Array;
  /** One array per system: [A] for an interval, [A, B] for a paired difference. */
  predictions: Int32Array[];
}

/**
 * Checks one config's groups and packs them. For a shared test set every seed must hold
 * the same images with the same labels; each is put in the first seed's image order, so
 * that image i is the same image in every seed.
 */
export function packGroups(
  field: string,
  groups: readonly SeedPredictions[],
  numClasses: number,
  testSet: TestSet,
): PackedSeed[] {
  return checkGroups(field, groups, numClasses, testSet).map(({ group, order }) => ({
    seed: group.seed,
    labels: Int32Array.from(reorder(group.labels, order)),
    predictions: [Int32Array.from(reorder(group.predictions, order))],
  }));
}

/**
 * Checks two configs' groups and packs them as pairs: the same seeds, and within each seed
 * the same images with the same labels (B's images are put in A's order by sample id).
 */
export function packPairedGroups(
  groupsA: readonly SeedPredictions[],
  groupsB: readonly SeedPredictions[],
  numClasses: number,
  testSet: TestSet,
): PackedSeed[] {
  const checkedA = checkGroups('groupsA', groupsA, numClasses, testSet);
  checkGroups('groupsB', groupsB, numClasses, testSet);
  const seedsA = groupsA.map((group) => group.seed);
  const indexB = new Map(groupsB.map((group, index) => [group.seed, index]));
  const missing = seedsA.filter((seed) => !indexB.has(seed));
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      'groupsB',
      `has no seed ${missing.join(', ')} (groupsA has seeds ${seedsA.join(', ')}; a paired comparison needs the same seeds)`,
    );
  }
  groupsB.forEach((group, index) => {
    if (!seedsA.includes(group.seed)) {
      throw new InvalidArgumentError(
        `groupsB[${index}].seed`,
        `seed ${group.seed} is not in groupsA (seeds ${seedsA.join(', ')})`,
      );
    }
  });
  return checkedA.map(({ group: groupA, order: orderA }) => {
    const at = indexB.get(groupA.seed) as number;
    const groupB = groupsB[at] as SeedPredictions;
    const orderB = imageOrder(`groupsB[${at}]`, groupA, groupB, {
      group: `groupsB (seed ${groupA.seed})`,
      reference: 'groupsA',
    });
    // Image i of the pair is image orderA[i] of A (identity unless the test set is shared),
    // which is image orderB[orderA[i]] of B.
    const toB = (i: number) => {
      const inA = orderA === undefined ? i : (orderA[i] as number);
      return orderB === undefined ? inA : (orderB[inA] as number);
    };
    const images = groupA.labels.length;
    return {
      seed: groupA.seed,
      labels: Int32Array.from(reorder(groupA.labels, orderA)),
      predictions: [
        Int32Array.from(reorder(groupA.predictions, orderA)),
        Int32Array.from({ length: images }, (_, i) => groupB.predictions[toB(i)] as number),
      ],
    };
  });
}

/** Each group checked, with its image order relative to the first seed's for a shared test set. */
function checkGroups(
  field: string,
  groups: readonly SeedPredictions[],
  numClasses: number,
  testSet: TestSet,
): Array<{ group: SeedPredictions; order: number[] | undefined }> {
  if (testSet !== 'per-seed' && testSet !== 'shared') {
    throw new InvalidArgumentError(
      'testSet',
      `must be 'per-seed' or 'shared', got ${JSON.stringify(testSet)}`,
    );
  }
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new InvalidArgumentError(field, 'needs at least one seed');
  }
  const seen = new Set<number>();
  groups.forEach((group, index) => {
    const at = `${field}[${index}]`;
    const seed = checkInteger(`${at}.seed`, group?.seed, 0);
    if (seen.has(seed)) throw new InvalidArgumentError(`${at}.seed`, `repeats seed ${seed}`);
    seen.add(seed);
    checkGroup(at, group, numClasses);
  });
  const first = groups[0] as SeedPredictions;
  return groups.map((group, index) => ({
    group,
    order:
      testSet === 'shared'
        ? imageOrder(`${field}[${index}]`, first, group, {
            group: `seed ${group.seed}`,
            reference: `seed ${first.seed} (the test set is shared)`,
          })
        : undefined,
  }));
}

function checkGroup(at: string, group: SeedPredictions, numClasses: number): void {
  const { labels, predictions, sampleIds } = group;
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new InvalidArgumentError(
      `${at}.labels`,
      `needs at least one test image (seed ${group.seed})`,
    );
  }
  const entries = (values: unknown) => (Array.isArray(values) ? values.length : 'no');
  if (!Array.isArray(predictions) || predictions.length !== labels.length) {
    throw new InvalidArgumentError(
      `${at}.predictions`,
      `has ${entries(predictions)} entries for ${labels.length} labels (seed ${group.seed})`,
    );
  }
  const checkClasses = (name: string, values: readonly number[]) => {
    values.forEach((value, i) => {
      if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
        throw new InvalidArgumentError(
          `${at}.${name}[${i}]`,
          `must be a class index in [0, ${numClasses - 1}], got ${value}`,
        );
      }
    });
  };
  checkClasses('labels', labels);
  checkClasses('predictions', predictions);
  if (sampleIds === undefined) return;
  if (!Array.isArray(sampleIds) || sampleIds.length !== labels.length) {
    throw new InvalidArgumentError(
      `${at}.sampleIds`,
      `has ${entries(sampleIds)} entries for ${labels.length} labels (seed ${group.seed})`,
    );
  }
  const ids = new Set<string>();
  sampleIds.forEach((id, i) => {
    if (typeof id !== 'string') {
      throw new InvalidArgumentError(`${at}.sampleIds[${i}]`, `must be a string, got ${id}`);
    }
    if (ids.has(id)) {
      throw new InvalidArgumentError(
        `${at}.sampleIds[${i}]`,
        `repeats sample ${JSON.stringify(id)}`,
      );
    }
    ids.add(id);
  });
}

/**
 * For each image of `reference`, its index in `group`: by sample id when both have ids
 * (undefined, the identity, when they pair by position). Throws, naming the sample, unless
 * both hold the same images with the same labels.
 */
function imageOrder(
  at: string,
  reference: SeedPredictions,
  group: SeedPredictions,
  names: { group: string; reference: string },
): number[] | undefined {
  const referenceIds = reference.sampleIds;
  const groupIds = group.sampleIds;
  if ((referenceIds === undefined) !== (groupIds === undefined)) {
    throw new InvalidArgumentError(
      `${at}.sampleIds`,
      `are ${groupIds === undefined ? 'missing' : 'given'} in ${names.group} but ${groupIds === undefined ? 'given' : 'missing'} in ${names.reference}: pair images by id in both or by position in both`,
    );
  }
  if (group.labels.length !== reference.labels.length) {
    throw new InvalidArgumentError(
      `${at}.labels`,
      `${names.group} has ${group.labels.length} test images, ${names.reference} has ${reference.labels.length}: a pairing needs the same images`,
    );
  }
  let order: number[] | undefined;
  if (referenceIds !== undefined && groupIds !== undefined) {
    const indexOf = new Map(groupIds.map((id, i) => [id, i]));
    order = referenceIds.map((id) => {
      const index = indexOf.get(id);
      if (index === undefined) {
        throw new InvalidArgumentError(
          `${at}.sampleIds`,
          `${names.group} has no sample ${JSON.stringify(id)}, which ${names.reference} has: a pairing needs the same images`,
        );
      }
      return index;
    });
  }
  reference.labels.forEach((label, i) => {
    const j = order === undefined ? i : (order[i] as number);
    const other = group.labels[j] as number;
    if (other !== label) {
      const image =
        referenceIds === undefined ? `image ${i}` : `sample ${JSON.stringify(referenceIds[i])}`;
      throw new InvalidArgumentError(
        `${at}.labels[${j}]`,
        `${image} has label ${other} in ${names.group} and ${label} in ${names.reference}`,
      );
    }
  });
  return order;
}

function reorder(values: readonly number[], order: number[] | undefined): readonly number[] {
  return order === undefined ? values : order.map((i) => values[i] as number);
}
