import { Type } from '@sinclair/typebox';
import { maskAllBut } from '../grid.js';
import type { MaskPattern } from '../registry.js';
import { type Rounding, roundingOption } from '../rounding.js';
import { checkVisibleCount, visibleCount } from './visible-count.js';

/**
 * SparK's own mask: per image, a uniformly random set of round((1 - r) G^2) visible patches
 * (docs/algorithms.md#random-mask; 60 % on 7x7 keeps 20).
 */
export const randomPattern: MaskPattern = {
  type: 'random',
  axis: 'ratio',
  summary: 'uniformly random patches, drawn per image (SparK default)',
  options: Type.Object({
    rounding: roundingOption('how the visible count is rounded (Python round = halfEven)'),
  }),
  check: (setting, gridSize) =>
    checkVisibleCount(setting.ratio as number, gridSize, setting.rounding as Rounding),
  generate(setting, gridSize, batchSize, rng) {
    const keep = visibleCount(setting.ratio as number, gridSize, setting.rounding as Rounding);
    const cells = Array.from({ length: gridSize * gridSize }, (_, i) => i);
    return Array.from({ length: batchSize }, () => maskAllBut(gridSize, rng.sample(cells, keep)));
  },
};
