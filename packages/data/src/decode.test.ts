import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '@masksweep/random';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { randomResizedCrop } from './augment.js';
import { DecodeError, decodeGray, encodeGrayPng, GRAY_IMAGENET, normalize } from './decode.js';
import type { GrayImage } from './gray-image.js';

const HEAD_CT = fileURLToPath(
  new URL('../../../../shared/data/head-ct-hemorrhage/', import.meta.url),
);
const dir = mkdtempSync(join(tmpdir(), 'masksweep-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a PNG from raw interleaved pixels. */
async function writePng(
  name: string,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  pixel: (x: number, y: number) => number[],
): Promise<string> {
  const bytes = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) bytes.set(pixel(x, y), (y * width + x) * channels);
  }
  const file = join(dir, name);
  await sharp(bytes, { raw: { width, height, channels } }).png().toFile(file);
  return file;
}

describe('decodeGray', () => {
  it('gives one channel in [0, 1] with transparent pixels made black', async () => {
    // Left half: opaque grey 51; right half: white but fully transparent.
    const file = await writePng('rgba.png', 8, 8, 4, (x) =>
      x < 4 ? [51, 51, 51, 255] : [255, 255, 255, 0],
    );
    const image = await decodeGray(file, { size: 8 });
    expect(image.width).toBe(8);
    expect(image.height).toBe(8);
    expect(image.data).toHaveLength(64);
    for (let y = 0; y < 8; y++) {
      expect(image.data[y * 8 + 1]).toBeCloseTo(51 / 255, 6);
      expect(image.data[y * 8 + 6]).toBe(0);
    }
  });

  it('stretches to the square by default and pads on black when asked', async () => {
    const file = await writePng('wide.png', 40, 20, 3, () => [255, 255, 255]);
    const stretched = await decodeGray(file, { size: 20 });
    expect(Math.min(...stretched.data)).toBe(1);
    const padded = await decodeGray(file, { size: 20, resize: 'pad' });
    const row = (y: number) => Array.from(padded.data.subarray(y * 20, y * 20 + 20));
    expect(row(0).every((v) => v === 0)).toBe(true);
    expect(row(19).every((v) => v === 0)).toBe(true);
    expect(row(10).every((v) => v === 1)).toBe(true);
  });

  it("keeps a larger source for crops, up to sourceScale x size and the file's own size", async () => {
    const file = await writePng('source.png', 100, 60, 1, (x) => [x]);
    const image = await decodeGray(file, { size: 20, sourceScale: 4 });
    expect(image.source).toMatchObject({ width: 80, height: 80 });
    expect(image.source?.data).toHaveLength(80 * 80);
    // the training-size image is decoded as without a source
    expect(image.data).toEqual((await decodeGray(file, { size: 20 })).data);
    expect((await decodeGray(file, { size: 40, sourceScale: 4 })).source).toMatchObject({
      width: 100,
      height: 100,
    });
    expect((await decodeGray(file, { size: 100, sourceScale: 4 })).source).toBeUndefined();
    await expect(decodeGray(file, { size: 20, sourceScale: 0.5 })).rejects.toThrow(/sourceScale/);
  });

  it("crops the original's detail that the training-size image has lost", async () => {
    // 4-px stripes: at 32 px (8x smaller) each pixel averages a stripe pair into flat grey
    const file = await writePng('stripes.png', 256, 256, 1, (x) => [x % 8 < 4 ? 255 : 0]);
    const image = await decodeGray(file, { size: 32, sourceScale: 4 });
    const contrast = ({ data }: GrayImage) => Math.max(...data) - Math.min(...data);
    const withoutSource = { width: 32, height: 32, data: image.data };
    for (const seed of [1, 2, 3]) {
      const options = { size: 32, scale: [0.08, 0.12] as const };
      expect(contrast(randomResizedCrop(image, new Random(seed), options))).toBeGreaterThan(0.5);
      expect(contrast(randomResizedCrop(withoutSource, new Random(seed), options))).toBeLessThan(
        0.1,
      );
    }
  });

  it('throws a DecodeError naming a file that is not an image or does not exist', async () => {
    const junk = join(dir, 'junk.png');
    writeFileSync(junk, 'not a png');
    const error = await decodeGray(junk, { size: 8 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).file).toBe(junk);
    expect((error as Error).message).toContain(junk);
    await expect(decodeGray(join(dir, 'missing.png'), { size: 8 })).rejects.toThrow(DecodeError);
  });

  it('refuses a bad size or resize mode before reading', async () => {
    await expect(decodeGray('any.png', { size: 0 })).rejects.toThrow(
      /size must be a positive integer, got 0/,
    );
    await expect(decodeGray('any.png', { size: 8, resize: 'crop' as 'pad' })).rejects.toThrow(
      /resize must be/,
    );
  });
});

describe('normalize', () => {
  it('subtracts the mean and divides by the std', () => {
    const image = { width: 2, height: 1, data: Float32Array.from([0, 1]) };
    const result = normalize(image, { mean: 0.5, std: 0.25 });
    expect(Array.from(result.data)).toEqual([-2, 2]);
    expect(Array.from(image.data)).toEqual([0, 1]);
    expect(normalize(image).data[1]).toBeCloseTo((1 - GRAY_IMAGENET.mean) / GRAY_IMAGENET.std, 6);
    expect(() => normalize(image, { mean: 0, std: 0 })).toThrow(/std must be > 0/);
  });

  it('uses the mean of ImageNet channel means and stds', () => {
    expect(GRAY_IMAGENET.mean).toBeCloseTo((0.485 + 0.456 + 0.406) / 3, 3);
    expect(GRAY_IMAGENET.std).toBeCloseTo((0.229 + 0.224 + 0.225) / 3, 3);
  });
});

describe('encodeGrayPng', () => {
  it('writes a grey PNG that decodes back to the clamped values', async () => {
    const data = Float32Array.from({ length: 16 }, (_, i) => i / 10 - 0.3);
    const file = join(dir, 'nested', 'out.png');
    await encodeGrayPng({ width: 4, height: 4, data }, file);
    const metadata = await sharp(file).metadata();
    expect(metadata).toMatchObject({ format: 'png', width: 4, height: 4, channels: 1 });
    const back = await decodeGray(file, { size: 4 });
    data.forEach((value, i) => {
      expect(back.data[i]).toBeCloseTo(Math.min(1, Math.max(0, value)), 2);
    });
  });

  it('refuses data that does not match the size', async () => {
    await expect(
      encodeGrayPng({ width: 3, height: 3, data: new Float32Array(8) }, join(dir, 'x.png')),
    ).rejects.toThrow(/8 values, expected 3x3/);
  });
});

describe.skipIf(!existsSync(HEAD_CT))(
  `decodeGray on ${HEAD_CT} (skipped when that folder is absent)`,
  () => {
    // skipIf still runs this body: read nothing when the folder is absent
    const labels = existsSync(HEAD_CT) ? readFileSync(join(HEAD_CT, 'labels.csv'), 'utf8') : '';
    const rgbaFiles = labels
      .split(/\r?\n/)
      .filter((line) => line.endsWith(',RGBA'))
      .map((line) => join(HEAD_CT, line.split(',')[0] as string));

    it('decodes the RGBA files to one channel of grey', async () => {
      expect(rgbaFiles).toHaveLength(12);
      for (const file of rgbaFiles) {
        const image = await decodeGray(file, { size: 64 });
        expect(image.data).toHaveLength(64 * 64);
        expect(Math.min(...image.data)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...image.data)).toBeLessThanOrEqual(1);
        expect(Math.max(...image.data)).toBeGreaterThan(Math.min(...image.data));
      }
    });

    it('keeps the grey level of an opaque RGBA file whose channels are equal', async () => {
      // 191.png is 225x225, so decoding at 225 does not resample and must give R / 255.
      const file = join(HEAD_CT, 'images/normal/191.png');
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      expect(info.channels).toBe(4);
      const image = await decodeGray(file, { size: info.width });
      let worst = 0;
      for (let i = 0; i < image.data.length; i++) {
        worst = Math.max(
          worst,
          Math.abs((image.data[i] as number) * 255 - (data[i * 4] as number)),
        );
      }
      expect(worst).toBeLessThanOrEqual(1);
    });
  },
);
