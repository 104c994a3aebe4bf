import type { GrayImage } from '@masksweep/data';
import type { Random } from '@masksweep/random';

/** MFF's crop padding: torchvision RandomCrop(224, padding=4, padding_mode='reflect'). */
export const MFF_CROP_PADDING = 4;

/**
 * The image padded by `padding` pixels on every side with reflection (the edge pixel is
 * not repeated: -1 reads 1), then cropped back to its own size at (top, left) of the
 * padded image, each in [0, 2·padding].
 */
export function cropReflectPadded(
  image: GrayImage,
  top: number,
  left: number,
  padding: number,
): GrayImage {
  const { width, height } = image;
  if (padding >= Math.min(width, height))
    throw new RangeError(
      `reflect padding ${padding} needs an image larger than ${width}x${height}`,
    );
  const reflect = (i: number, size: number) => (i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const source = reflect(y + top - padding, height) * width;
    for (let x = 0; x < width; x++) {
      data[y * width + x] = image.data[source + reflect(x + left - padding, width)] as number;
    }
  }
  return { width, height, data };
}

/**
 * MFF's crop (its pipeline: Resize, RandomCrop with reflect padding 4, flip): the offset
 * drawn uniformly, top then left, as torchvision does.
 */
export function randomCropReflectPadded(
  image: GrayImage,
  rng: Random,
  padding = MFF_CROP_PADDING,
): GrayImage {
  const top = rng.int(0, 2 * padding);
  const left = rng.int(0, 2 * padding);
  return cropReflectPadded(image, top, left, padding);
}
