import { blockwisePattern } from './patterns/blockwise.js';
import { meshPattern } from './patterns/mesh.js';
import { randomPattern } from './patterns/random.js';
import { squarePattern } from './patterns/square.js';
import { registerMaskPattern } from './registry.js';

for (const pattern of [randomPattern, meshPattern, squarePattern, blockwisePattern])
  registerMaskPattern(pattern);

export { MaskOptionError, type MaskProblem } from './errors.js';
export {
  gridSizeFor,
  MAX_GRID_SIDE,
  type MaskGrid,
  maskAllBut,
  maskedCount,
  toRows,
} from './grid.js';
export { parityClasses, smallestParityClass } from './patterns/mesh.js';
export { visibleCount } from './patterns/visible-count.js';
export {
  createMaskGenerator,
  getMaskPattern,
  type MaskAxis,
  type MaskGenerator,
  type MaskPattern,
  type MaskSetting,
  maskLabel,
  maskTypes,
  registerMaskPattern,
  resolveMaskSetting,
} from './registry.js';
export { type RgbImage, renderMaskOverlay, writeRgbPng } from './render.js';
export { ROUNDINGS, type Rounding, roundCount } from './rounding.js';
