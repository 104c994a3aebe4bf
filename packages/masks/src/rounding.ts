import { Type } from '@sinclair/typebox';

/** How a fractional patch count becomes a whole one. */
export const ROUNDINGS = ['halfEven', 'halfUp', 'floor', 'ceil'] as const;
export type Rounding = (typeof ROUNDINGS)[number];

/**
 * Rounds a patch count. `halfEven` is Python's `round` (24.5 -> 24), which the reference
 * mask generators use; JavaScript's `Math.round` is `halfUp` (24.5 -> 25).
 */
export function roundCount(value: number, rounding: Rounding): number {
  switch (rounding) {
    case 'floor':
      return Math.floor(value);
    case 'ceil':
      return Math.ceil(value);
    case 'halfUp':
      return Math.floor(value + 0.5);
    case 'halfEven': {
      const floor = Math.floor(value);
      const fraction = value - floor;
      if (fraction > 0.5) return floor + 1;
      if (fraction < 0.5) return floor;
      return floor % 2 === 0 ? floor : floor + 1;
    }
  }
}

/** The `rounding` option of the ratio-based patterns. */
export function roundingOption(description: string) {
  return Type.Union(
    ROUNDINGS.map((r) => Type.Literal(r)),
    { default: 'halfEven', description },
  );
}
