/**
 * Inverse class-frequency weights, the paper's equation 6: w_c = N / n_c with N the number
 * of samples of all classes (w0 = (n0 + n1) / n0, w1 = (n0 + n1) / n1 for two classes).
 * Counts are indexed by label; a Map may leave out labels, which then count as 0 samples.
 */
export function classWeights(counts: ReadonlyMap<number, number> | readonly number[]): number[] {
  const perClass = Array.isArray(counts)
    ? [...counts]
    : countsByLabel(counts as ReadonlyMap<number, number>);
  if (perClass.length === 0) throw new RangeError('class weights need at least one class');
  perClass.forEach((count, label) => {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`class ${label} has an invalid sample count: ${count}`);
    }
    if (count === 0) {
      throw new RangeError(`class ${label} has no samples, so its weight N / n_c is undefined`);
    }
  });
  const total = perClass.reduce((sum, count) => sum + count, 0);
  return perClass.map((count) => total / count);
}

function countsByLabel(counts: ReadonlyMap<number, number>): number[] {
  const labels = [...counts.keys()];
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0) {
      throw new RangeError(`class labels must be integers >= 0, got ${label}`);
    }
  }
  const perClass = new Array<number>(labels.length === 0 ? 0 : Math.max(...labels) + 1).fill(0);
  for (const [label, count] of counts) perClass[label] = count;
  return perClass;
}
