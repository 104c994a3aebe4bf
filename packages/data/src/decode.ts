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
}

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
  const { size, resize = 'stretch' } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (resize !== 'stretch' && resize !== 'pad') {
    throw new RangeError(`resize must be 'stretch' or 'pad', got '${resize}'`);
  }
  const { data, info } = await sharp(file)
    .flatten({ background: '#000000' })
    .greyscale()
    .resize(size, size, {
      fit: resize === 'pad' ? 'contain' : 'fill',
      background: { r: 0, g: 0, b: 0, alpha: 1 },
    })
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((error: unknown) => {
      throw new DecodeError(file, error);
    });
  if (info.channels !== 1 || info.width !== size || info.height !== size) {
    throw new DecodeError(
      file,
      `expected ${size}x${size} with 1 channel, got ${info.width}x${info.height} with ${info.channels}`,
    );
  }
  const values = new Float32Array(size * size);
  for (let i = 0; i < values.length; i++) values[i] = (data[i] as number) / 255;
  return { width: size, height: size, data: values };
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
