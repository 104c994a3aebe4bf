import { Type } from '@sinclair/typebox';
import type { MaskPattern } from '../registry.js';

/**
 * One k x k square of masked patches, everything else visible (the literal reading of the
 * paper's square mask, docs/algorithms.md#square-mask): 2x2, 3x3, 4x4 on 7x7 mask 4, 9, 16 of 49.
 */
export const squarePattern: MaskPattern = {
  type: 'square',
  axis: 'size',
  summary: 'one k x k square of masked patches',
  options: Type.Object({
    placement: Type.Union([Type.Literal('random'), Type.Literal('center')], {
      default: 'random',
      description: 'top-left corner uniform over every position where the square fits, or centred',
    }),
  }),
  check(setting, gridSize) {
    const size = setting.size as number;
    if (size >= gridSize) {
      return [
        {
          field: 'size',
          message: `square of ${size}x${size} patches does not leave a visible patch on the ${gridSize}x${gridSize} grid; use a size under ${gridSize}`,
        },
      ];
    }
    return [];
  },
  generate(setting, gridSize, batchSize, rng) {
    const size = setting.size as number;
    const last = gridSize - size;
    return Array.from({ length: batchSize }, () => {
      const top = setting.placement === 'center' ? last >> 1 : rng.int(0, last);
      const left = setting.placement === 'center' ? last >> 1 : rng.int(0, last);
      const mask = new Uint8Array(gridSize * gridSize);
      for (let row = top; row < top + size; row++)
        mask.fill(1, row * gridSize + left, row * gridSize + left + size);
      return mask;
    });
  },
};
