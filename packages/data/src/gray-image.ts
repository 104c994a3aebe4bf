/** A one-channel image: row-major values, usually in [0, 1] (after normalize: any real). */
export interface GrayImage {
  width: number;
  height: number;
  data: Float32Array;
  /**
   * The same picture at a higher resolution, when the file had one: RandomResizedCrop cuts its
   * box from here and resizes to the image's size, as torchvision crops the original.
   */
  source?: GraySource;
}

/** A decoded image as 8-bit grey (value / 255 is the [0, 1] grey), row-major. */
export interface GraySource {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A black image of the given size. */
export function blankGrayImage(width: number, height: number): GrayImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  return { width, height, data: new Float32Array(width * height) };
}
