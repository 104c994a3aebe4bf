/**
 * The truncated normal distribution TPE's kernels are: the log of a normal's mass on an
 * interval (which normalises a kernel) and its quantile function for drawing. The numerics
 * follow Optuna's optuna/samplers/_tpe/_truncnorm.py (itself after SciPy): masses are computed on
 * the side of the mean where they do not cancel, and the quantile inverts log Φ by
 * bisection, so tails far out (|z| up to 100) stay finite.
 */
import erf from '@stdlib/math-base-special-erf';
import erfc from '@stdlib/math-base-special-erfc';

const LOG_SQRT_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** Φ(a), the standard normal CDF. */
export function ndtr(a: number): number {
  const x = a / Math.SQRT2;
  if (x < -Math.SQRT1_2) return 0.5 * erfc(-x);
  if (x < Math.SQRT1_2) return 0.5 + 0.5 * erf(x);
  return 1 - 0.5 * erfc(x);
}

/** log Φ(a), accurate in the far left tail by its asymptotic series. */
export function logNdtr(a: number): number {
  if (a > 6) return -ndtr(-a);
  if (a > -20) return Math.log(ndtr(a));
  const logLeft = -0.5 * a * a - Math.log(-a) - LOG_SQRT_TWO_PI;
  let last = 0;
  let sum = 1;
  let numerator = 1;
  let denominator = 1;
  let sign = 1;
  for (let i = 1; Math.abs(last - sum) > Number.EPSILON; i++) {
    last = sum;
    sign = -sign;
    denominator /= a * a;
    numerator *= 2 * i - 1;
    sum += sign * numerator * denominator;
  }
  return logLeft + Math.log(sum);
}

/** log(exp(p) - exp(q)) for p > q. */
function logDiff(logP: number, logQ: number): number {
  return logP + Math.log1p(-Math.exp(logQ - logP));
}

/** log(exp(p) + exp(q)). */
function logSum(logP: number, logQ: number): number {
  const max = Math.max(logP, logQ);
  if (max === Number.NEGATIVE_INFINITY) return max;
  return max + Math.log(Math.exp(logP - max) + Math.exp(logQ - max));
}

/** log of a standard normal's mass on [a, b]. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b));
  // A tail beyond 8.5 standard deviations holds under 1e-17, below what the sums this
  // joins resolve: left out, it saves its erfc (most of g(x)'s kernels have one).
  const left = a < -8.5 ? 0 : ndtr(a);
  const right = b > 8.5 ? 0 : ndtr(-b);
  return Math.log1p(-left - right);
}

/** x with log Φ(x) = y, by 100 bisections on [-100, 100] (Optuna's `_ndtri_exp`). */
function ndtriExp(y: number): number {
  let low = -100;
  let high = 100;
  let middle = 0;
  for (let i = 0; i < 100; i++) {
    middle = (low + high) / 2;
    if (logNdtr(middle) < y) low = middle;
    else high = middle;
  }
  return middle;
}

/** The q-quantile of the standard normal truncated to [a, b]. */
export function truncnormPpf(q: number, a: number, b: number): number {
  if (a === b) return Number.NaN;
  if (q === 0) return a;
  if (q === 1) return b;
  if (a < 0) return ndtriExp(logSum(logNdtr(a), Math.log(q) + logGaussMass(a, b)));
  return -ndtriExp(logSum(logNdtr(-b), Math.log1p(-q) + logGaussMass(a, b)));
}
