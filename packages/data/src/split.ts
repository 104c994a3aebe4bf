import { Random } from '@masksweep/random';
import type { Sample } from './labels.js';

export const SPLIT_NAMES = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];
export type SplitFractions = Record<SplitName, number>;
export type Splits = Record<SplitName, Sample[]>;

export interface SplitOptions {
  fractions: SplitFractions;
  seed: number;
}

/**
 * Splits samples into train / val / test, stratified by label. When samples carry a group
 * (patient), every group goes whole into one split, so no patient is seen both in training
 * and in evaluation; groups are then stratified by their majority label. The result depends
 * only on the seed and the set of samples, not on their input order.
 */
export function splitDataset(samples: readonly Sample[], options: SplitOptions): Splits {
  const fractions = checkFractions(options.fractions);
  const rng = new Random(options.seed);
  const units = toUnits([...samples].sort((a, b) => compare(a.id, b.id)));
  const splits: Splits = { train: [], val: [], test: [] };

  for (const [label, members] of byLabel(units)) {
    rng.fork('split', label).shuffle(members);
    const grouped = members.some((unit) => unit.group !== undefined);
    const assignment = grouped
      ? assignGroups(members, fractions)
      : assignSingles(members.length, fractions);
    members.forEach((unit, index) => {
      splits[assignment[index] as SplitName].push(...unit.samples);
    });
  }
  for (const name of SPLIT_NAMES) splits[name].sort((a, b) => compare(a.id, b.id));
  return splits;
}

function checkFractions(fractions: SplitFractions): SplitFractions {
  let sum = 0;
  for (const name of SPLIT_NAMES) {
    const value = fractions[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`fractions.${name} must be a number >= 0, got ${value}`);
    }
    sum += value;
  }
  if (Math.abs(sum - 1) > 1e-9) {
    const parts = SPLIT_NAMES.map((name) => `fractions.${name} = ${fractions[name]}`).join(', ');
    throw new RangeError(`fractions must sum to 1, got ${sum} (${parts})`);
  }
  return fractions;
}

/** The pieces that are never cut: a whole group, or a single sample without a group. */
interface Unit {
  group?: string;
  label: number;
  samples: Sample[];
}

function toUnits(sortedSamples: readonly Sample[]): Unit[] {
  const groups = new Map<string, Sample[]>();
  const units: Unit[] = [];
  for (const sample of sortedSamples) {
    if (sample.group === undefined) {
      units.push({ label: sample.label, samples: [sample] });
      continue;
    }
    const members = groups.get(sample.group);
    if (members) members.push(sample);
    else groups.set(sample.group, [sample]);
  }
  for (const [group, members] of groups) {
    units.push({ group, label: majorityLabel(members), samples: members });
  }
  return units;
}

/** The most frequent label; a tie goes to the smallest label so the rule is deterministic. */
function majorityLabel(samples: readonly Sample[]): number {
  const counts = new Map<number, number>();
  for (const { label } of samples) counts.set(label, (counts.get(label) ?? 0) + 1);
  let best = Number.POSITIVE_INFINITY;
  let bestCount = 0;
  for (const [label, count] of counts) {
    if (count > bestCount || (count === bestCount && label < best)) {
      best = label;
      bestCount = count;
    }
  }
  return best;
}

function byLabel(units: readonly Unit[]): Array<[number, Unit[]]> {
  const map = new Map<number, Unit[]>();
  for (const unit of units) {
    const members = map.get(unit.label);
    if (members) members.push(unit);
    else map.set(unit.label, [unit]);
  }
  return [...map].sort(([a], [b]) => a - b);
}

/**
 * Split sizes for n single samples by largest remainders, so every split is within one
 * sample of n * fraction; the first `train` positions go to train, and so on.
 */
function assignSingles(n: number, fractions: SplitFractions): SplitName[] {
  const shares = SPLIT_NAMES.map((name) => {
    const target = n * fractions[name];
    return { name, count: Math.floor(target), remainder: target - Math.floor(target) };
  });
  let missing = n - shares.reduce((sum, share) => sum + share.count, 0);
  // Stable sort: equal remainders keep the order train, val, test.
  for (const share of [...shares].sort((a, b) => b.remainder - a.remainder)) {
    if (missing === 0) break;
    share.count++;
    missing--;
  }
  return shares.flatMap(({ name, count }) => new Array<SplitName>(count).fill(name));
}

/**
 * Groups in (shuffled) order each go to the split furthest below its share of this label's
 * samples; splits with fraction 0 get nothing.
 */
function assignGroups(units: readonly Unit[], fractions: SplitFractions): SplitName[] {
  const total = units.reduce((sum, unit) => sum + unit.samples.length, 0);
  const filled: SplitFractions = { train: 0, val: 0, test: 0 };
  return units.map((unit) => {
    let chosen: SplitName | undefined;
    let largestDeficit = Number.NEGATIVE_INFINITY;
    for (const name of SPLIT_NAMES) {
      if (fractions[name] === 0) continue;
      const deficit = total * fractions[name] - filled[name];
      if (deficit > largestDeficit) {
        largestDeficit = deficit;
        chosen = name;
      }
    }
    const split = chosen as SplitName;
    filled[split] += unit.samples.length;
    return split;
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
