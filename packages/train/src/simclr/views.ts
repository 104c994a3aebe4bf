import { type GrayImage, randomFlip, randomResizedCrop } from '@masksweep/data';
import type { Random } from '@masksweep/random';

export interface SimclrViewOptions {
  /** Output width and height. */
  size: number;
  /**
   * Crop area range. The paper's SimCLR text says 20-100 %; MMPreTrain's config keeps
   * RandomResizedCrop's 8-100 % ([0.08, 1]).
   * @default [0.2, 1]
   */
  cropScale?: readonly [number, number];
  /** @default [3/4, 4/3] */
  cropRatio?: readonly [number, number];
  /** @default 0.5 */
  flipProbability?: number;
  /** Probability of the colour jitter (RandomApply). @default 0.8 */
  jitterProbability?: number;
  /** Brightness factor drawn from [max(0, 1 - b), 1 + b]. @default 0.8 */
  brightness?: number;
  /** Contrast factor drawn from [max(0, 1 - c), 1 + c]. @default 0.8 */
  contrast?: number;
  /** @default 0.5 */
  blurProbability?: number;
  /** Range of the blur's standard deviation in pixels (PIL's radius). @default [0.1, 2] */
  blurSigma?: readonly [number, number];
}

/** What one view's colour jitter and blur do, drawn before any pixel is touched. */
export interface PhotometricDraw {
  /** Absent when the jitter was not applied; `order` is the order of the two adjustments. */
  jitter?: { brightness: number; contrast: number; order: Array<'brightness' | 'contrast'> };
  /** Absent when the blur was not applied. */
  blurSigma?: number;
}

/**
 * The two views of one image for SimCLR (MMPreTrain's `view_pipeline`,
 * docs/algorithms.md#simclr-views), each drawn independently from `rng`. Inputs and outputs are
 * gray images in [0, 1]; normalise them afterwards, as the pre-training data preprocessor does.
 */
export function simclrViews(
  image: GrayImage,
  rng: Random,
  options: SimclrViewOptions,
): [GrayImage, GrayImage] {
  return [simclrView(image, rng, options), simclrView(image, rng, options)];
}

/**
 * One view: RandomResizedCrop, horizontal flip, colour jitter, blur, in the paper's order.
 * On one channel the jitter is brightness and contrast only (the paper leaves saturation and
 * hue out) and RandomGrayscale is the identity, so it is skipped.
 */
export function simclrView(image: GrayImage, rng: Random, options: SimclrViewOptions): GrayImage {
  const crop = randomResizedCrop(image, rng, {
    size: options.size,
    scale: options.cropScale ?? [0.2, 1],
    ratio: options.cropRatio,
  });
  const flipped = randomFlip(crop, rng, { p: options.flipProbability ?? 0.5 });
  return applyPhotometric(flipped, drawPhotometric(rng, options));
}

/**
 * The jitter (MMPreTrain's ColorJitter inside RandomApply: the adjustments in random order,
 * factors uniform in [max(0, 1 - s), 1 + s]) and the blur (GaussianBlur, sigma uniform).
 */
export function drawPhotometric(
  rng: Random,
  options: Omit<SimclrViewOptions, 'size'> = {},
): PhotometricDraw {
  const jitterProbability = probability('jitterProbability', options.jitterProbability ?? 0.8);
  const blurProbability = probability('blurProbability', options.blurProbability ?? 0.5);
  const brightness = strength('brightness', options.brightness ?? 0.8);
  const contrast = strength('contrast', options.contrast ?? 0.8);
  const [minSigma, maxSigma] = options.blurSigma ?? [0.1, 2];
  if (!(minSigma > 0 && minSigma <= maxSigma && Number.isFinite(maxSigma))) {
    throw new RangeError(`blurSigma must satisfy 0 < min <= max, got [${minSigma}, ${maxSigma}]`);
  }
  const draw: PhotometricDraw = {};
  if (rng.bernoulli(jitterProbability)) {
    const order = rng.shuffle<'brightness' | 'contrast'>(['brightness', 'contrast']);
    draw.jitter = {
      order,
      brightness: rng.uniform(Math.max(0, 1 - brightness), 1 + brightness),
      contrast: rng.uniform(Math.max(0, 1 - contrast), 1 + contrast),
    };
  }
  if (rng.bernoulli(blurProbability)) draw.blurSigma = rng.uniform(minSigma, maxSigma);
  return draw;
}

/** Applies a drawn jitter and blur; returns the same image when neither was drawn. */
export function applyPhotometric(image: GrayImage, draw: PhotometricDraw): GrayImage {
  let out = image;
  for (const adjustment of draw.jitter?.order ?? []) {
    out =
      adjustment === 'brightness'
        ? adjustBrightness(out, draw.jitter?.brightness as number)
        : adjustContrast(out, draw.jitter?.contrast as number);
  }
  return draw.blurSigma === undefined ? out : gaussianBlur(out, draw.blurSigma);
}

/** PIL's ImageEnhance.Brightness: a blend with black, x·f, clipped to [0, 1]. */
export function adjustBrightness(image: GrayImage, factor: number): GrayImage {
  return mapPixels(image, (x) => x * factor);
}

/**
 * PIL's ImageEnhance.Contrast: a blend with the image's mean gray level m, m + f·(x − m),
 * clipped to [0, 1]. (PIL rounds m to an 8-bit level; these images are not quantised.)
 */
export function adjustContrast(image: GrayImage, factor: number): GrayImage {
  let sum = 0;
  for (const value of image.data) sum += value;
  const mean = sum / image.data.length;
  return mapPixels(image, (x) => mean + factor * (x - mean));
}

/**
 * A separable Gaussian blur with standard deviation `sigma` pixels (PIL's GaussianBlur
 * radius), the kernel cut at 3 sigma and renormalised, edges extended as PIL does.
 */
export function gaussianBlur(image: GrayImage, sigma: number): GrayImage {
  if (!(sigma > 0)) throw new RangeError(`blur sigma must be > 0, got ${sigma}`);
  const radius = Math.ceil(3 * sigma);
  const weights = Array.from({ length: 2 * radius + 1 }, (_, i) =>
    Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = weights.reduce((a, b) => a + b, 0);
  const kernel = weights.map((w) => w / total);
  const { width, height } = image;
  const rows = convolveLine(image.data, kernel, width, height, 1, width);
  return { width, height, data: convolveLine(rows, kernel, height, width, width, 1) };
}

/**
 * Convolves `lines` lines of `length` samples with the kernel; sample i of line l is at
 * l·lineStride + i·step. Positions outside a line take its end value.
 */
function convolveLine(
  source: Float32Array,
  kernel: number[],
  length: number,
  lines: number,
  step: number,
  lineStride: number,
): Float32Array {
  const radius = (kernel.length - 1) / 2;
  const out = new Float32Array(source.length);
  for (let line = 0; line < lines; line++) {
    const start = line * lineStride;
    for (let i = 0; i < length; i++) {
      let value = 0;
      for (let k = 0; k < kernel.length; k++) {
        const at = Math.min(length - 1, Math.max(0, i + k - radius));
        value += (kernel[k] as number) * (source[start + at * step] as number);
      }
      out[start + i * step] = value;
    }
  }
  return out;
}

function mapPixels(image: GrayImage, f: (x: number) => number): GrayImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.min(1, Math.max(0, f(image.data[i] as number)));
  }
  return { width: image.width, height: image.height, data };
}

function probability(name: string, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${p}`);
  return p;
}

function strength(name: string, s: number): number {
  if (!(s >= 0 && Number.isFinite(s))) throw new RangeError(`${name} must be >= 0, got ${s}`);
  return s;
}
