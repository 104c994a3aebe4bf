import type { Random } from '@masksweep/random';
import { Type } from '@sinclair/typebox';
import type { MaskProblem } from '../errors.js';
import { maskAllBut } from '../grid.js';
import type { MaskPattern, MaskSetting } from '../registry.js';
import { type Rounding, roundingOption } from '../rounding.js';
import { checkVisibleCount, visibleCount } from './visible-count.js';

type ParityRule = 'checkerboard' | 'flatIndex';
type Overflow = 'error' | 'clamp' | 'fillOther';

/**
 * The cells of each parity class. The paper's rule is (G*row + column) mod 2, which on its
 * odd 7x7 grid equals (row + column) mod 2, a checkerboard; on an even grid the flat-index
 * rule would give stripes, so `checkerboard` is the default and `flatIndex` is kept for
 * fidelity experiments (docs/algorithms.md#mesh-mask).
 */
export function parityClasses(gridSize: number, rule: ParityRule): [number[], number[]] {
  const classes: [number[], number[]] = [[], []];
  for (let row = 0; row < gridSize; row++) {
    for (let column = 0; column < gridSize; column++) {
      const key = rule === 'checkerboard' ? row + column : gridSize * row + column;
      classes[key % 2]?.push(row * gridSize + column);
    }
  }
  return classes;
}

/**
 * The size of the smaller parity class, without listing cells: a checkerboard of G x G
 * splits ceil(G²/2) and floor(G²/2); the flat-index rule is the checkerboard on an odd grid
 * and column stripes (G * G/2 each) on an even one. Either way floor(G²/2).
 */
export function smallestParityClass(gridSize: number): number {
  return Math.floor((gridSize * gridSize) / 2);
}

function meshProblems(setting: MaskSetting, gridSize: number): MaskProblem[] {
  const ratio = setting.ratio as number;
  const rounding = setting.rounding as Rounding;
  const countProblems = checkVisibleCount(ratio, gridSize, rounding);
  if (countProblems.length > 0 || setting.overflow !== 'error') return countProblems;
  const keep = visibleCount(ratio, gridSize, rounding);
  // Arithmetic, not parityClasses: validation must not allocate per cell of the grid.
  const smallest = smallestParityClass(gridSize);
  if (keep <= smallest) return [];
  return [
    {
      field: 'ratio',
      message:
        `mesh ratio ${ratio} keeps ${keep} patches visible but a parity class of the ` +
        `${gridSize}x${gridSize} grid has only ${smallest} cells; use a ratio of at least 0.5 ` +
        `or overflow 'clamp' or 'fillOther'`,
    },
  ];
}

function meshMask(setting: MaskSetting, gridSize: number, parity: 0 | 1, rng: Random) {
  const classes = parityClasses(gridSize, setting.parityRule as ParityRule);
  const candidates = classes[parity];
  const others = classes[1 - parity] as number[];
  const keep = visibleCount(setting.ratio as number, gridSize, setting.rounding as Rounding);
  if (keep <= candidates.length) return maskAllBut(gridSize, rng.sample(candidates, keep));
  switch (setting.overflow as Overflow) {
    case 'clamp':
      return maskAllBut(gridSize, candidates);
    case 'fillOther':
      return maskAllBut(gridSize, [...candidates, ...rng.sample(others, keep - candidates.length)]);
    case 'error':
      throw new RangeError(
        `mesh: ${keep} visible patches do not fit a parity class of ${candidates.length}`,
      );
  }
}

/**
 * The paper's mesh mask (its Algorithm 1): choose one parity class of the patch grid with
 * probability 1/2, keep round((1 - r) G^2) random cells of it visible, mask the rest.
 * Visible patches never share an edge.
 */
export const meshPattern: MaskPattern = {
  type: 'mesh',
  axis: 'ratio',
  summary: "visible patches drawn from one checkerboard colour (the paper's mesh mask)",
  options: Type.Object({
    rounding: roundingOption(
      "how the visible count is rounded (the paper's ROUND, taken as Python round)",
    ),
    overflow: Type.Union(
      [Type.Literal('error'), Type.Literal('clamp'), Type.Literal('fillOther')],
      {
        default: 'error',
        description:
          'when more patches must stay visible than a parity class holds (ratios under 0.5)',
      },
    ),
    parityChoice: Type.Union([Type.Literal('perImage'), Type.Literal('perBatch')], {
      default: 'perImage',
      description: 'draw the parity class for every image, or once per batch',
    }),
    parityRule: Type.Union([Type.Literal('checkerboard'), Type.Literal('flatIndex')], {
      default: 'checkerboard',
      description: "(row + column) mod 2, or the paper's literal (G*row + column) mod 2",
    }),
  }),
  check: meshProblems,
  generate(setting, gridSize, batchSize, rng) {
    // The paper: "if RAND(0, 1) > 0.5 then K <- even cells else odd cells".
    const drawParity = (): 0 | 1 => (rng.float() > 0.5 ? 0 : 1);
    const batchParity = setting.parityChoice === 'perBatch' ? drawParity() : undefined;
    return Array.from({ length: batchSize }, () =>
      meshMask(setting, gridSize, batchParity ?? drawParity(), rng),
    );
  },
};
