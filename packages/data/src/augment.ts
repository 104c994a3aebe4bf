import type { Random } from '@masksweep/random';
import type { GrayImage, GraySource } from './gray-image.js';

/** A rectangle of an image, in pixels. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface RandomResizedCropOptions {
  /** Output width and height. */
  size: number;
  /** Range of the crop's area as a fraction of the image's. @default [0.08, 1] */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height). @default [3/4, 4/3] */
  ratio?: readonly [number, number];
}

const CROP_ATTEMPTS = 10;

/**
 * The crop of torchvision's RandomResizedCrop.get_params: up to 10 draws of an area
 * (uniform in scale) and an aspect ratio (log-uniform in ratio), the first that fits is
 * placed uniformly at random; if none fits, a centre crop with the ratio clamped to range.
 */
export function randomResizedCropBox(
  height: number,
  width: number,
  rng: Random,
  options: Omit<RandomResizedCropOptions, 'size'> = {},
): CropBox {
  const [minScale, maxScale] = options.scale ?? [0.08, 1];
  const [minRatio, maxRatio] = options.ratio ?? [3 / 4, 4 / 3];
  if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1)) {
    throw new RangeError(`scale must satisfy 0 < min <= max <= 1, got [${minScale}, ${maxScale}]`);
  }
  if (!(minRatio > 0 && minRatio <= maxRatio && Number.isFinite(maxRatio))) {
    throw new RangeError(`ratio must satisfy 0 < min <= max, got [${minRatio}, ${maxRatio}]`);
  }
  const area = height * width;
  for (let attempt = 0; attempt < CROP_ATTEMPTS; attempt++) {
    const targetArea = area * rng.uniform(minScale, maxScale);
    const aspect = Math.exp(rng.uniform(Math.log(minRatio), Math.log(maxRatio)));
    // Math.round rounds halves up where Python rounds them to even; it only matters on exact halves.
    const cropWidth = Math.round(Math.sqrt(targetArea * aspect));
    const cropHeight = Math.round(Math.sqrt(targetArea / aspect));
    if (cropWidth > 0 && cropWidth <= width && cropHeight > 0 && cropHeight <= height) {
      return {
        top: rng.int(0, height - cropHeight),
        left: rng.int(0, width - cropWidth),
        height: cropHeight,
        width: cropWidth,
      };
    }
  }
  let cropWidth = width;
  let cropHeight = height;
  if (width / height < minRatio) cropHeight = Math.round(width / minRatio);
  else if (width / height > maxRatio) cropWidth = Math.round(height * maxRatio);
  return {
    top: Math.floor((height - cropHeight) / 2),
    left: Math.floor((width - cropWidth) / 2),
    height: cropHeight,
    width: cropWidth,
  };
}

/**
 * A random crop (randomResizedCropBox) resized to size x size. The box is drawn on the image's
 * source when it has one (the decoded original at a higher resolution), so a small crop keeps
 * the detail the training-size image has lost.
 */
export function randomResizedCrop(
  image: GrayImage,
  rng: Random,
  options: RandomResizedCropOptions,
): GrayImage {
  const from = image.source ?? image;
  const box = randomResizedCropBox(from.height, from.width, rng, options);
  return cropAndResize(from, box, options.size);
}

/**
 * Resize of one box of the image to size x size with a triangle (bilinear) filter, pixel
 * centres aligned and samples limited to the box (crop, then resize, as torchvision). Where
 * the box is larger than the output the filter widens with the scale (PIL's and torchvision's
 * antialiasing), so shrinking averages instead of skipping pixels; where it is smaller this is
 * plain bilinear interpolation. A GraySource's bytes are read as value / 255.
 */
export function cropAndResize(
  image: GrayImage | GraySource,
  box: CropBox,
  size: number,
): GrayImage {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  const { top, left, height, width } = box;
  if (top < 0 || left < 0 || height < 1 || width < 1) {
    throw new RangeError(`crop box ${JSON.stringify(box)} is empty or outside the image`);
  }
  if (top + height > image.height || left + width > image.width) {
    throw new RangeError(
      `crop box ${JSON.stringify(box)} is outside the ${image.width}x${image.height} image`,
    );
  }
  const unit = image.data instanceof Uint8Array ? 1 / 255 : 1;
  const columns = filterTaps(left, width, size);
  const rows = filterTaps(top, height, size);
  const source = image.data;
  const stride = image.width;
  // Columns first, over the box's rows only.
  const across = new Float32Array(height * size);
  for (let y = 0; y < height; y++) {
    const row = (top + y) * stride;
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (let t = columns.start[x] as number; t < (columns.start[x + 1] as number); t++) {
        sum +=
          (source[row + (columns.index[t] as number)] as number) * (columns.weight[t] as number);
      }
      across[y * size + x] = sum * unit;
    }
  }
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let sum = 0;
      for (let t = rows.start[y] as number; t < (rows.start[y + 1] as number); t++) {
        sum +=
          (across[((rows.index[t] as number) - top) * size + x] as number) *
          (rows.weight[t] as number);
      }
      data[y * size + x] = sum;
    }
  }
  return { width: size, height: size, data };
}

/**
 * For each output index i: the source indices in [start, start + length) and their normalised
 * triangle weights (taps start[i] to start[i + 1] - 1). The output pixel's centre falls at
 * start + (i + 0.5) * scale; the triangle's half-width is max(1, scale) source pixels.
 */
function filterTaps(start: number, length: number, size: number) {
  const scale = length / size;
  const support = Math.max(1, scale);
  const index: number[] = [];
  const weight: number[] = [];
  const starts = new Int32Array(size + 1);
  for (let i = 0; i < size; i++) {
    starts[i] = index.length;
    const centre = start + (i + 0.5) * scale;
    const first = Math.max(start, Math.floor(centre - support));
    const last = Math.min(start + length - 1, Math.ceil(centre + support));
    let total = 0;
    const from = weight.length;
    for (let j = first; j <= last; j++) {
      const w = 1 - Math.abs(j + 0.5 - centre) / support;
      if (w <= 0) continue;
      index.push(j);
      weight.push(w);
      total += w;
    }
    // Normalised over the box's pixels: a centre within half a pixel of an edge takes the edge pixel.
    for (let t = from; t < weight.length; t++) weight[t] = (weight[t] as number) / total;
  }
  starts[size] = index.length;
  return { index: Int32Array.from(index), weight: Float32Array.from(weight), start: starts };
}

/** Mirrors the image left-right with probability p; otherwise returns the same image. */
export function randomFlip(
  image: GrayImage,
  rng: Random,
  { p = 0.5 }: { p?: number } = {},
): GrayImage {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`flip probability p must be in [0, 1], got ${p}`);
  if (!rng.bernoulli(p)) return image;
  const { width, height } = image;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) data[row + x] = image.data[row + width - 1 - x] as number;
  }
  return { width, height, data };
}

/** A batch of images with one row of (one-hot or soft) class scores per image. */
export interface LabelledBatch {
  images: GrayImage[];
  labels: Float32Array[];
}

export interface MixedBatch extends LabelledBatch {
  /** The weight of each image's own content and label after mixing. */
  lambda: number;
  /** Image i was mixed with image permutation[i]. */
  permutation: number[];
}

export interface CutMixBatch extends MixedBatch {
  /** The pasted box, the same for the whole batch; may be empty. */
  box: CropBox;
}

/** A one-hot row of class scores. */
export function oneHot(label: number, numClasses: number): Float32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
    throw new RangeError(`label must be an integer in [0, ${numClasses}), got ${label}`);
  }
  const row = new Float32Array(numClasses);
  row[label] = 1;
  return row;
}

/**
 * Mixup (MMPreTrain's Mixup): lambda ~ Beta(alpha, alpha) once per batch, a random
 * permutation, x = lambda x + (1 - lambda) x[perm] and the same for the labels.
 */
export function mixup(batch: LabelledBatch, rng: Random, { alpha }: { alpha: number }): MixedBatch {
  checkBatch(batch);
  const lambda = rng.beta(checkAlpha(alpha, 'mixup'), alpha);
  const permutation = randomPermutation(batch.images.length, rng);
  const images = batch.images.map((image, i) => {
    const other = (batch.images[permutation[i] as number] as GrayImage).data;
    const data = new Float32Array(image.data.length);
    for (let p = 0; p < data.length; p++) {
      data[p] = lambda * (image.data[p] as number) + (1 - lambda) * (other[p] as number);
    }
    return { width: image.width, height: image.height, data };
  });
  return { images, labels: mixLabels(batch.labels, permutation, lambda), lambda, permutation };
}

/**
 * CutMix (MMPreTrain's CutMix with correct_lam): lambda ~ Beta(alpha, alpha), cut ratio
 * sqrt(1 - lambda), a box of int(H r) x int(W r) centred at a uniform pixel and clipped to
 * the image; x[perm] is pasted into the box and lambda becomes 1 - box area / image area.
 */
export function cutmix(
  batch: LabelledBatch,
  rng: Random,
  { alpha }: { alpha: number },
): CutMixBatch {
  checkBatch(batch);
  const sampled = rng.beta(checkAlpha(alpha, 'cutmix'), alpha);
  const permutation = randomPermutation(batch.images.length, rng);
  const { width, height } = batch.images[0] as GrayImage;
  const cutRatio = Math.sqrt(1 - sampled);
  const halfHeight = Math.floor(Math.trunc(height * cutRatio) / 2);
  const halfWidth = Math.floor(Math.trunc(width * cutRatio) / 2);
  const centreY = rng.int(0, height - 1);
  const centreX = rng.int(0, width - 1);
  const top = clamp(centreY - halfHeight, 0, height);
  const bottom = clamp(centreY + halfHeight, 0, height);
  const left = clamp(centreX - halfWidth, 0, width);
  const right = clamp(centreX + halfWidth, 0, width);
  const box = { top, left, height: bottom - top, width: right - left };
  const lambda = 1 - (box.height * box.width) / (height * width);

  const images = batch.images.map((image, i) => {
    const other = (batch.images[permutation[i] as number] as GrayImage).data;
    const data = image.data.slice();
    for (let y = top; y < bottom; y++) {
      data.set(other.subarray(y * width + left, y * width + right), y * width + left);
    }
    return { width, height, data };
  });
  return {
    images,
    labels: mixLabels(batch.labels, permutation, lambda),
    lambda,
    permutation,
    box,
  };
}

export type BatchAugmentName = 'mixup' | 'cutmix';

/** MMPreTrain's ConvNeXt defaults. */
export const DEFAULT_BATCH_ALPHAS: Readonly<Record<BatchAugmentName, number>> = {
  mixup: 0.8,
  cutmix: 1.0,
};

/**
 * One of the given batch augments, chosen uniformly for each batch (MMPreTrain's
 * RandomBatchAugment without probabilities): never both, never none.
 */
export function randomBatchAugment(
  batch: LabelledBatch,
  rng: Random,
  augments: readonly BatchAugmentName[],
  alphas: Partial<Record<BatchAugmentName, number>> = {},
): MixedBatch & { augment: BatchAugmentName; box?: CropBox } {
  if (augments.length === 0) throw new RangeError('randomBatchAugment needs at least one augment');
  for (const name of augments) {
    if (!Object.hasOwn(DEFAULT_BATCH_ALPHAS, name)) {
      throw new RangeError(`unknown batch augment '${name}'; known: mixup, cutmix`);
    }
  }
  const augment = augments[rng.int(0, augments.length - 1)] as BatchAugmentName;
  const alpha = alphas[augment] ?? DEFAULT_BATCH_ALPHAS[augment];
  const mixed = augment === 'mixup' ? mixup(batch, rng, { alpha }) : cutmix(batch, rng, { alpha });
  return { ...mixed, augment };
}

function checkAlpha(alpha: number, name: BatchAugmentName): number {
  if (!(alpha > 0) || !Number.isFinite(alpha)) {
    throw new RangeError(`${name} alpha must be a positive number, got ${alpha}`);
  }
  return alpha;
}

function checkBatch({ images, labels }: LabelledBatch): void {
  const first = images[0];
  if (!first) throw new RangeError('a batch needs at least one image');
  if (labels.length !== images.length) {
    throw new RangeError(`batch has ${images.length} images but ${labels.length} label rows`);
  }
  const classes = (labels[0] as Float32Array).length;
  images.forEach((image, i) => {
    if (image.width !== first.width || image.height !== first.height) {
      throw new RangeError(
        `batch image ${i} is ${image.width}x${image.height}, image 0 is ${first.width}x${first.height}`,
      );
    }
    if ((labels[i] as Float32Array).length !== classes) {
      throw new RangeError(
        `batch label row ${i} has ${labels[i]?.length} classes, row 0 has ${classes}`,
      );
    }
  });
}

function randomPermutation(n: number, rng: Random): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}

function mixLabels(
  labels: readonly Float32Array[],
  permutation: readonly number[],
  lambda: number,
): Float32Array[] {
  return labels.map((row, i) => {
    const other = labels[permutation[i] as number] as Float32Array;
    const mixed = new Float32Array(row.length);
    for (let c = 0; c < row.length; c++) {
      mixed[c] = lambda * (row[c] as number) + (1 - lambda) * (other[c] as number);
    }
    return mixed;
  });
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
