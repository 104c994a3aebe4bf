import type { Random } from '@masksweep/random';
import { Type } from '@sinclair/typebox';
import type { MaskProblem } from '../errors.js';
import { MAX_GRID_SIDE, type MaskGrid } from '../grid.js';
import type { MaskPattern, MaskSetting } from '../registry.js';
import { type Rounding, roundCount, roundingOption } from '../rounding.js';

type Variant = 'unilm' | 'mmpretrain';

/** Safety bound for the mmpretrain variant, whose loop has no exit of its own. */
const MAX_ROUNDS = 10_000;

interface BlockwiseParameters {
  target: number;
  minPatches: number;
  maxPatches: number;
  logAspect: [number, number];
  variant: Variant;
}

function parameters(setting: MaskSetting, gridSize: number): BlockwiseParameters {
  const target = roundCount(
    (setting.ratio as number) * gridSize * gridSize,
    setting.rounding as Rounding,
  );
  const minAspect = setting.minAspect as number;
  return {
    target,
    minPatches: setting.minPatches as number,
    maxPatches: (setting.maxPatches as number | undefined) ?? target,
    logAspect: [Math.log(minAspect), Math.log(1 / minAspect)],
    variant: setting.variant as Variant,
  };
}

/**
 * One rectangle of at most `budget` new patches, up to 10 attempts (BEiT's `_mask`). The
 * unilm variant draws the corner over every position (inclusive bounds); the mmpretrain
 * variant's exclusive bounds never reach the last row or column.
 */
function placeBlock(
  mask: MaskGrid,
  gridSize: number,
  budget: number,
  p: BlockwiseParameters,
  rng: Random,
) {
  let added = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = rng.uniform(p.minPatches, budget);
    const aspect = Math.exp(rng.uniform(p.logAspect[0], p.logAspect[1]));
    const height = roundCount(Math.sqrt(area * aspect), 'halfEven');
    const width = roundCount(Math.sqrt(area / aspect), 'halfEven');
    if (width < gridSize && height < gridSize) {
      const reach = p.variant === 'unilm' ? 0 : 1;
      const top = rng.int(0, gridSize - height - reach);
      const left = rng.int(0, gridSize - width - reach);
      let alreadyMasked = 0;
      for (let row = top; row < top + height; row++) {
        for (let column = left; column < left + width; column++)
          alreadyMasked += mask[row * gridSize + column] as number;
      }
      const fresh = height * width - alreadyMasked;
      if (fresh > 0 && fresh <= budget) {
        for (let row = top; row < top + height; row++)
          mask.fill(1, row * gridSize + left, row * gridSize + left + width);
        added += fresh;
      }
      if (added > 0) break;
    }
  }
  return added;
}

function blockwiseMask(gridSize: number, p: BlockwiseParameters, rng: Random): MaskGrid {
  const mask = new Uint8Array(gridSize * gridSize);
  let count = 0;
  for (let round = 0; count < p.target; round++) {
    if (round === MAX_ROUNDS) {
      throw new RangeError(
        `block-wise (${p.variant}) reached only ${count} of ${p.target} patches`,
      );
    }
    const added = placeBlock(mask, gridSize, Math.min(p.target - count, p.maxPatches), p, rng);
    // The original generator stops when a round adds nothing, and may end below target.
    if (added === 0 && p.variant === 'unilm') break;
    count += added;
  }
  return mask;
}

function blockwiseProblems(setting: MaskSetting, gridSize: number): MaskProblem[] {
  const p = parameters(setting, gridSize);
  const cells = gridSize * gridSize;
  if (p.target < 1 || p.target >= cells) {
    return [
      {
        field: 'ratio',
        message: `${setting.ratio} gives ${p.target} of ${cells} patches to mask; need 1 to ${cells - 1}`,
      },
    ];
  }
  const reachable = (gridSize - 1) ** 2;
  if (p.variant === 'mmpretrain' && p.target > reachable) {
    return [
      {
        field: 'ratio',
        message: `the mmpretrain variant never masks the last row or column, so at most ${reachable} of ${cells} patches; ratio ${setting.ratio} needs ${p.target}`,
      },
    ];
  }
  if (!((setting.minAspect as number) > 0 && (setting.minAspect as number) <= 1)) {
    return [{ field: 'minAspect', message: `must be in (0, 1], got ${setting.minAspect}` }];
  }
  return [];
}

/**
 * BEiT's block-wise mask (docs/algorithms.md#block-wise-mask): rectangles of random area and aspect
 * added until round(r G^2) patches are masked.
 */
export const blockwisePattern: MaskPattern = {
  type: 'blockwise',
  axis: 'ratio',
  summary: 'random rectangles until the ratio is reached (BEiT block-wise)',
  options: Type.Object({
    rounding: roundingOption('how the masked count round(r G^2) is rounded'),
    minPatches: Type.Integer({
      minimum: 1,
      maximum: MAX_GRID_SIDE ** 2,
      default: 4,
      description: 'smallest rectangle area in patches (BEiT: 4)',
    }),
    maxPatches: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_GRID_SIDE ** 2,
        description: 'largest rectangle area in patches; default: the whole target',
      }),
    ),
    minAspect: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.3,
      description: 'aspect ratio range [minAspect, 1/minAspect]',
    }),
    variant: Type.Union([Type.Literal('unilm'), Type.Literal('mmpretrain')], {
      default: 'unilm',
      description:
        "the original BEiT generator, or MMPreTrain 1.1.0's re-implementation (for fidelity tests)",
    }),
  }),
  check: blockwiseProblems,
  generate(setting, gridSize, batchSize, rng) {
    const p = parameters(setting, gridSize);
    return Array.from({ length: batchSize }, () => blockwiseMask(gridSize, p, rng));
  },
};
