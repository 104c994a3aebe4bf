/** Query parameters of the web view, checked: a bad one is a 400 naming it. */
import { DEFAULT_COMPARE_RESAMPLES, MAX_COMPARE_RESAMPLES } from '../analysis/compare.js';
import { InvalidRequestError } from '../errors.js';

export type Params = URLSearchParams;

export function oneOf<T extends string>(
  params: Params,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidRequestError(
      name,
      `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

export function integerParam(
  params: Params,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = params.get(name);
  if (value === null || value === '') return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new InvalidRequestError(
      name,
      `must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

export function optionalInteger(params: Params, name: string): number | undefined {
  return params.has(name) ? integerParam(params, name, 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
}

export function optionalNumber(params: Params, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number)) {
    throw new InvalidRequestError(name, `must be a number, got ${JSON.stringify(value)}`);
  }
  return number;
}

function requiredParam(params: Params, name: string): string {
  const value = params.get(name);
  if (!value) throw new InvalidRequestError(name, 'is required');
  return value;
}

/** A paired comparison as the compare page and /api/compare take it. */
export function compareRequest(params: Params) {
  return {
    namespace: requiredParam(params, 'ns'),
    sweep: requiredParam(params, 'sweep'),
    configKeyA: requiredParam(params, 'a'),
    configKeyB: requiredParam(params, 'b'),
    metric: params.get('metric') || 'f1',
    seed: integerParam(params, 'seed', 0, 0, 2 ** 32 - 1),
    resamples: integerParam(
      params,
      'resamples',
      DEFAULT_COMPARE_RESAMPLES,
      2,
      MAX_COMPARE_RESAMPLES,
    ),
    confidence: optionalNumber(params, 'confidence'),
  };
}
