import type { MaskProblem } from '../errors.js';
import { type Rounding, roundCount } from '../rounding.js';

/** Patches kept visible at a mask ratio, computed as the reference code does: round(G*G*(1-r)). */
export function visibleCount(ratio: number, gridSize: number, rounding: Rounding): number {
  return roundCount(gridSize * gridSize * (1 - ratio), rounding);
}

/** A ratio must leave at least one patch visible and mask at least one. */
export function checkVisibleCount(
  ratio: number,
  gridSize: number,
  rounding: Rounding,
): MaskProblem[] {
  const cells = gridSize * gridSize;
  const visible = visibleCount(ratio, gridSize, rounding);
  if (visible < 1) {
    return [
      {
        field: 'ratio',
        message: `${ratio} keeps no patch of the ${gridSize}x${gridSize} grid visible`,
      },
    ];
  }
  if (visible >= cells) {
    return [
      { field: 'ratio', message: `${ratio} masks no patch of the ${gridSize}x${gridSize} grid` },
    ];
  }
  return [];
}
