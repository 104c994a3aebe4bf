/**
 * A mask over a square grid of patches: one byte per patch, row-major (index = row * size +
 * column), 1 = masked (hidden from the encoder), 0 = visible. SparK's "active" map is the
 * complement.
 */
export type MaskGrid = Uint8Array;

/**
 * The largest patch grid a mask is drawn on (imageSize 1024 / stride 32): the bound that
 * keeps per-cell work in validation and generation small (docs/design.md#bounds).
 */
export const MAX_GRID_SIDE = 32;

export function maskedCount(mask: MaskGrid): number {
  let count = 0;
  for (const cell of mask) count += cell;
  return count;
}

/** The grid as rows of 0/1, the form `masksweep masks sample` prints. */
export function toRows(mask: MaskGrid, gridSize: number): number[][] {
  return Array.from({ length: gridSize }, (_, row) =>
    Array.from(mask.subarray(row * gridSize, (row + 1) * gridSize)),
  );
}

/** A grid with the given cells visible and every other cell masked. */
export function maskAllBut(gridSize: number, visible: Iterable<number>): MaskGrid {
  const mask = new Uint8Array(gridSize * gridSize).fill(1);
  for (const cell of visible) mask[cell] = 0;
  return mask;
}

/** Patch grid side for an input size: SparK's total stride is 32, so 224 px -> 7. */
export function gridSizeFor(imageSize: number, patchSize = 32): number {
  if (!Number.isInteger(imageSize) || imageSize <= 0 || imageSize % patchSize !== 0) {
    throw new RangeError(
      `image size ${imageSize} is not a positive multiple of the ${patchSize}-px patch`,
    );
  }
  return imageSize / patchSize;
}
