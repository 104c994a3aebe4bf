/** An argument or option that cannot be used; `field` names the offending one. */
export class InvalidArgumentError extends RangeError {
  override readonly name = 'InvalidArgumentError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Throws unless `value` is a finite number, optionally bounded below and above. */
export function checkNumber(
  field: string,
  value: number,
  bounds: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {},
): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(field, `must be a finite number, got ${value}`);
  }
  const { min, max, minExclusive = false, maxExclusive = false } = bounds;
  if (min !== undefined && (minExclusive ? value <= min : value < min)) {
    throw new InvalidArgumentError(
      field,
      `must be ${minExclusive ? '>' : '>='} ${min}, got ${value}`,
    );
  }
  if (max !== undefined && (maxExclusive ? value >= max : value > max)) {
    throw new InvalidArgumentError(
      field,
      `must be ${maxExclusive ? '<' : '<='} ${max}, got ${value}`,
    );
  }
  return value;
}

/** Throws unless `value` is an integer >= `min` (0 unless given). */
export function checkInteger(field: string, value: number, min = 0): number {
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(field, `must be an integer >= ${min}, got ${value}`);
  }
  return value;
}
