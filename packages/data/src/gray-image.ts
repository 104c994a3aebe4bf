/** A one-channel image: row-major values, usually in [0, 1] (after normalize: any real). */
export interface GrayImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** A black image of the given size. */
export function blankGrayImage(width: number, height: number): GrayImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  return { width, height, data: new Float32Array(width * height) };
}
