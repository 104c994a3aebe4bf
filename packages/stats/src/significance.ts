/**
 * What a set of comparisons can claim: Holm's step-down adjustment of their p-values, and
 * the smallest true difference a comparison of a given standard error would detect.
 */
import { normalQuantile } from './distributions.js';
import { checkNumber, InvalidArgumentError } from './errors.js';

/**
 * Holm-Bonferroni adjusted p-values (Holm 1979), in the order given: with the p-values
 * sorted ascending, p_(i) becomes max over j <= i of min(1, (m − j + 1)·p_(j)). A
 * hypothesis is rejected at family-wise level α when its adjusted p-value is <= α, whatever
 * the dependence between the tests.
 */
export function holm(pValues: readonly number[]): number[] {
  if (!Array.isArray(pValues)) throw new InvalidArgumentError('pValues', 'must be an array');
  pValues.forEach((p, index) => {
    checkNumber(`pValues[${index}]`, p, { min: 0, max: 1 });
  });
  const m = pValues.length;
  // Stable order: equal p-values keep their input order (and get the same adjusted value).
  const order = [...pValues.keys()].sort((i, j) => (pValues[i] as number) - (pValues[j] as number));
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach((index, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * (pValues[index] as number)));
    adjusted[index] = running;
  });
  return adjusted;
}

export interface DetectableDifferenceOptions {
  /**
   * Two-sided significance level of the test.
   * @default 0.05
   */
  alpha?: number;
  /**
   * Probability of detecting a true difference of the returned size.
   * @default 0.8
   */
  power?: number;
}

/**
 * (z_{1−α/2} + z_{power})·SE: under a normal approximation with this standard error, a true
 * difference of this size is declared significant (two-sided, level α) with probability
 * `power`; smaller true differences are more likely missed than found. 2.80·SE at the
 * defaults.
 */
export function detectableDifference(
  standardError: number,
  options: DetectableDifferenceOptions = {},
): number {
  checkNumber('standardError', standardError, { min: 0 });
  const open = { min: 0, max: 1, minExclusive: true, maxExclusive: true };
  const alpha = checkNumber('alpha', options.alpha ?? 0.05, open);
  const power = checkNumber('power', options.power ?? 0.8, open);
  return (normalQuantile(1 - alpha / 2) + normalQuantile(power)) * standardError;
}
