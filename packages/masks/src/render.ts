import sharp from 'sharp';
import type { MaskGrid } from './grid.js';

export interface RgbImage {
  width: number;
  height: number;
  /** 3 bytes per pixel, row-major. */
  rgb: Uint8Array;
}

/** Masked patches are opaque: the encoder sees nothing of them. */
const MASK_RGB = [110, 120, 135];
const GRID_LINE_WEIGHT = 0.35;

/**
 * A mask drawn over a gray slice the way the paper's figures 6-10 show it: masked patches
 * covered in flat gray, visible patches untouched, thin lines on the patch grid.
 */
export function renderMaskOverlay(
  image: { width: number; height: number; data: Float32Array },
  mask: MaskGrid,
  gridSize: number,
): RgbImage {
  const { width, height, data } = image;
  if (mask.length !== gridSize * gridSize) {
    throw new RangeError(
      `mask has ${mask.length} cells, a ${gridSize}x${gridSize} grid needs ${gridSize * gridSize}`,
    );
  }
  const rgb = new Uint8Array(width * height * 3);
  const cellOf = (pixel: number, extent: number) =>
    Math.min(gridSize - 1, Math.floor((pixel * gridSize) / extent));
  const onLine = (pixel: number, extent: number) =>
    pixel > 0 && cellOf(pixel, extent) !== cellOf(pixel - 1, extent);
  for (let y = 0; y < height; y++) {
    const row = cellOf(y, height);
    for (let x = 0; x < width; x++) {
      const gray = Math.max(0, Math.min(1, data[y * width + x] as number)) * 255;
      const masked = mask[row * gridSize + cellOf(x, width)] === 1;
      const line = onLine(x, width) || onLine(y, height);
      for (let c = 0; c < 3; c++) {
        let value = masked ? (MASK_RGB[c] as number) : gray;
        if (line) value = (1 - GRID_LINE_WEIGHT) * value + GRID_LINE_WEIGHT * 255;
        rgb[(y * width + x) * 3 + c] = Math.round(value);
      }
    }
  }
  return { width, height, rgb };
}

export async function writeRgbPng(image: RgbImage, file: string): Promise<void> {
  await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toFile(file);
}
