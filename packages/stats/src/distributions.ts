/**
 * The few special functions the statistics need, on plain numbers: log-gamma, the
 * regularized incomplete beta function, Student's t and normal quantiles and the binomial
 * CDF. Written out here because no maintained, typed numeric library is a dependency.
 */
import { checkInteger, checkNumber, InvalidArgumentError } from './errors.js';

// Lanczos approximation, g = 7, n = 9 (relative error about 1e-15 for x > 0).
const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  checkNumber('x', x, { min: 0, minExclusive: true });
  return lnGammaPositive(x);
}

function lnGammaPositive(x: number): number {
  if (x < 0.5) {
    // Reflection keeps the series in its accurate range.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGammaPositive(1 - x);
  }
  const shifted = x - 1;
  let series = LANCZOS_COEFFICIENTS[0] as number;
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) {
    series += (LANCZOS_COEFFICIENTS[i] as number) / (shifted + i);
  }
  const t = shifted + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (shifted + 0.5) * Math.log(t) - t + Math.log(series);
}

/** I_x(a, b), the regularized incomplete beta function, for x in [0, 1] and a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  checkNumber('x', x, { min: 0, max: 1 });
  checkNumber('a', a, { min: 0, minExclusive: true });
  checkNumber('b', b, { min: 0, minExclusive: true });
  return incompleteBeta(x, 1 - x, a, b);
}

/**
 * I_x(a, b) given x and y = 1 − x separately, so callers that know y precisely (the t tail
 * for small t) do not lose it to cancellation.
 */
function incompleteBeta(x: number, y: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const logFront =
    lnGammaPositive(a + b) -
    lnGammaPositive(a) -
    lnGammaPositive(b) +
    a * Math.log(x) +
    b * Math.log(y);
  // The continued fraction converges fast on this side; use the symmetry on the other.
  if (x < (a + 1) / (a + b + 2)) {
    return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  }
  return 1 - (Math.exp(logFront) * betaContinuedFraction(y, b, a)) / b;
}

/** The continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const tolerance = 1e-15;
  const maxIterations = 100_000;
  const sum = a + b;
  let c = 1;
  let d = 1 - (sum * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let fraction = d;
  for (let m = 1; m <= maxIterations; m++) {
    const m2 = 2 * m;
    let term = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + term * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + term / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    fraction *= d * c;
    term = (-(a + m) * (sum + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + term * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + term / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const change = d * c;
    fraction *= change;
    if (Math.abs(change - 1) < tolerance) return fraction;
  }
  throw new Error(`incomplete beta did not converge for x=${x}, a=${a}, b=${b}`);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df > 0, Infinity = normal). */
export function studentTCdf(t: number, df: number): number {
  checkDegreesOfFreedom(df);
  if (Number.isNaN(t)) throw new InvalidArgumentError('t', 'must be a number, got NaN');
  if (df === Number.POSITIVE_INFINITY) return normalCdf(t);
  const tail = studentTUpperTail(Math.abs(t), df);
  return t >= 0 ? 1 - tail : tail;
}

/** P(T > t) for t ≥ 0: I_{df/(df+t²)}(df/2, 1/2) / 2. */
function studentTUpperTail(t: number, df: number): number {
  if (t === Number.POSITIVE_INFINITY) return 0;
  const t2 = t * t;
  return 0.5 * incompleteBeta(df / (df + t2), t2 / (df + t2), df / 2, 0.5);
}

/**
 * The p-quantile of Student's t with `df` degrees of freedom: exact closed forms for df 1
 * and 2, bisection on the CDF otherwise (to about 1e-13), a Cornish-Fisher expansion for
 * df > 1e5 (where log-gamma differences lose digits) and the normal quantile for Infinity.
 */
export function studentTQuantile(p: number, df: number): number {
  checkNumber('p', p, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  checkDegreesOfFreedom(df);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  if (df === Number.POSITIVE_INFINITY) return normalQuantile(p);
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  if (df > 1e5) return cornishFisherT(normalQuantile(p), df);
  const tail = 1 - p;
  let low = 0;
  let high = 1;
  while (studentTUpperTail(high, df) > tail) {
    low = high;
    high *= 2;
  }
  for (let i = 0; i < 200 && high - low > 1e-14 * high; i++) {
    const middle = (low + high) / 2;
    if (studentTUpperTail(middle, df) > tail) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/** t ≈ z + (z³ + z)/(4ν) + (5z⁵ + 16z³ + 3z)/(96ν²) + (3z⁷ + 19z⁵ + 17z³ − 15z)/(384ν³). */
function cornishFisherT(z: number, df: number): number {
  const z2 = z * z;
  return (
    z +
    (z * (z2 + 1)) / (4 * df) +
    (z * ((5 * z2 + 16) * z2 + 3)) / (96 * df * df) +
    (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / (384 * df * df * df)
  );
}

function checkDegreesOfFreedom(df: number): void {
  if (!(df > 0) || Number.isNaN(df)) {
    throw new InvalidArgumentError('df', `must be > 0 (or Infinity), got ${df}`);
  }
}

// Acklam's rational approximation of the normal quantile (relative error < 1.15e-9).
const ACKLAM_A = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2,
  -3.066479806614716e1, 2.506628277459239,
];
const ACKLAM_B = [
  -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1,
  -1.328068155288572e1,
];
const ACKLAM_C = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734,
  4.374664141464968, 2.938163982698783,
];
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const ACKLAM_LOW = 0.02425;

function polynomial(coefficients: readonly number[], x: number): number {
  return coefficients.reduce((sum, coefficient) => sum * x + coefficient, 0);
}

/** Φ⁻¹(p) for p in (0, 1). */
export function normalQuantile(p: number): number {
  checkNumber('p', p, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  if (p < ACKLAM_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    return polynomial(ACKLAM_C, q) / (polynomial(ACKLAM_D, q) * q + 1);
  }
  if (p > 1 - ACKLAM_LOW) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (polynomial(ACKLAM_A, r) * q) / (polynomial(ACKLAM_B, r) * r + 1);
}

/** Φ(z) = erfc(−z/√2)/2. */
function normalCdf(z: number): number {
  return 0.5 * complementaryError(-z / Math.SQRT2);
}

/** erfc(x) by Numerical Recipes' Chebyshev fit (fractional error below 1.2e-7). */
function complementaryError(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const value =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? value : 2 - value;
}

/** P(X ≤ k) for X ~ Binomial(n, p), summed exactly in log space (no underflow for large n). */
export function binomialCdf(k: number, n: number, p: number): number {
  checkInteger('n', n);
  checkNumber('p', p, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
  if (!Number.isInteger(k)) throw new InvalidArgumentError('k', `must be an integer, got ${k}`);
  if (k < 0) return 0;
  if (k >= n) return 1;
  // log pmf(i + 1) = log pmf(i) + log((n − i)/(i + 1)) + log(p/(1 − p)).
  const logOdds = Math.log(p) - Math.log1p(-p);
  let logPmf = n * Math.log1p(-p);
  const logTerms = [logPmf];
  for (let i = 0; i < k; i++) {
    logPmf += Math.log((n - i) / (i + 1)) + logOdds;
    logTerms.push(logPmf);
  }
  const largest = logTerms.reduce((max, term) => Math.max(max, term), Number.NEGATIVE_INFINITY);
  const sum = logTerms.reduce((total, term) => total + Math.exp(term - largest), 0);
  return Math.min(1, Math.exp(largest) * sum);
}
