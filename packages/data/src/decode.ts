import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';
import type { GrayImage } from './gray-image.js';

export type ResizeMode = 'stretch' | 'pad';

export interface DecodeOptions {
  /** Output width and height in pixels. */
  size: number;
  /** 'stretch' fills the square (aspect not kept); 'pad' keeps the aspect on black. @default 'stretch' */
  resize?: ResizeMode;
  /**
   * Also keep the picture as the `source` of RandomResizedCrop, square like the image (same
   * stretch or pad), at up to sourceScale x size and never above the file's own resolution;
   * no source when that is not larger than size. @default no source
   */
  sourceScale?: number;
}

/**
 * The source scale the trainers decode with: RandomResizedCrop's smallest crop (8 % of the
 * area) spans 0.28 of the side, which at 4 x the training size is still more pixels than the
 * crop's output, so the crop is as sharp as one cut from the original file.
 */
export const CROP_SOURCE_SCALE = 4;

/** A file that sharp could not read or decode. */
export class DecodeError extends Error {
  readonly file: string;
  constructor(file: string, cause: unknown) {
    super(`cannot decode ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'DecodeError';
    this.file = file;
  }
}

/** ImageNet's RGB mean and std averaged over the channels, for one-channel inputs. */
export const GRAY_IMAGENET = { mean: 0.449, std: 0.226 } as const;

export interface NormalizeStats {
  mean: number;
  std: number;
}

/**
 * Decodes an image file to one channel of size x size values in [0, 1]. Transparent pixels
 * become black; colour is converted to grey, since the CT sets hold grey stored as RGB(A)
 * with an occasional tint, and every image gets the same size so size cannot leak the label.
 */
export async function decodeGray(file: string, options: DecodeOptions): Promise<GrayImage> {
  const { size, resize = 'stretch', sourceScale } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (resize !== 'stretch' && resize !== 'pad') {
    throw new RangeError(`resize must be 'stretch' or 'pad', got '${resize}'`);
  }
  if (sourceScale !== undefined && !(sourceScale >= 1 && Number.isFinite(sourceScale))) {
    throw new RangeError(`sourceScale must be a number >= 1, got ${sourceScale}`);
  }
  const pixels = await decodeSquare(file, size, resize);
  const values = new Float32Array(size * size);
  for (let i = 0; i < values.length; i++) values[i] = (pixels[i] as number) / 255;
  const image: GrayImage = { width: size, height: size, data: values };
  if (sourceScale === undefined) return image;
  const metadata = await sharp(file)
    .metadata()
    .catch((error: unknown) => {
      throw new DecodeError(file, error);
    });
  const side = Math.min(
    Math.floor(sourceScale * size),
    Math.max(metadata.width ?? 0, metadata.height ?? 0),
  );
  if (side <= size) return image;
  const data = await decodeSquare(file, side, resize);
  return { ...image, source: { width: side, height: side, data } };
}

/** The file as side x side 8-bit grey, stretched or padded to the square. */
async function decodeSquare(file: string, side: number, resize: ResizeMode): Promise<Uint8Array> {
  const { data, info } = await sharp(file)
    .flatten({ background: '#000000' })
    .greyscale()
    .resize(side, side, {
      fit: resize === 'pad' ? 'contain' : 'fill',
      background: { r: 0, g: 0, b: 0, alpha: 1 },
    })
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw new DecodeError(file, error);
    });
  if (info.channels !== 1 || info.width !== side || info.height !== side) {
    throw new DecodeError(
      file,
      `expected ${side}x${side} with 1 channel, got ${info.width}x${info.height} with ${info.channels}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** (x - mean) / std for every pixel, as a new image. */
export function normalize(image: GrayImage, stats: NormalizeStats = GRAY_IMAGENET): GrayImage {
  if (!(stats.std > 0)) throw new RangeError(`normalize std must be > 0, got ${stats.std}`);
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++)
    data[i] = ((image.data[i] as number) - stats.mean) / stats.std;
  return { width: image.width, height: image.height, data };
}

/** Writes an image as an 8-bit grey PNG (values clamped to [0, 1]); creates the folder. */
export async function encodeGrayPng(image: GrayImage, file: string): Promise<void> {
  const { width, height } = image;
  if (image.data.length !== width * height) {
    throw new RangeError(`image data has ${image.data.length} values, expected ${width}x${height}`);
  }
  const bytes = Buffer.alloc(width * height);
  for (let i = 0; i < bytes.length; i++) {
    const value = image.data[i] as number;
    // NaN counts as 0 rather than poisoning the file.
    bytes[i] = Math.round(255 * Math.min(1, Math.max(0, value || 0)));
  }
  await mkdir(dirname(file), { recursive: true });
  await sharp(bytes, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(file);
}
