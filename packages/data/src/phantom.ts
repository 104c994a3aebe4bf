import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveSeed, Random } from '@masksweep/random';
import { encodeGrayPng } from './decode.js';
import { blankGrayImage, type GrayImage } from './gray-image.js';

/** How a phantom's lesions look; each lesion draws its radius and contrast from these ranges. */
export interface LesionOptions {
  /** Radius as a fraction of the brain's smaller semi-axis, [low, high]. @default [0.08, 0.16] */
  lesionRadius?: readonly [number, number];
  /**
   * Brightness added to the brain tissue at a lesion's centre (gray levels; tissue is about
   * 0.45, noise 0.015), [low, high]; the rim gets 80 % of it. @default [0.35, 0.45]
   */
  lesionContrast?: readonly [number, number];
}

export const LESION_DEFAULTS = {
  lesionRadius: [0.08, 0.16],
  lesionContrast: [0.35, 0.45],
} as const satisfies Required<LesionOptions>;

export interface PhantomOptions extends LesionOptions {
  /** Width and height in pixels (at least 16). */
  size: number;
  /** Number of bright round lesions (0 for a normal slice). */
  lesions: number;
}

/** A lesion's centre in pixel coordinates (column x, row y) and its radius in pixels. */
export interface LesionCenter {
  x: number;
  y: number;
  radius: number;
}

export interface Phantom {
  image: GrayImage;
  lesionCenters: LesionCenter[];
}

const BACKGROUND = 0.03;
const SKULL = 0.95;
const VENTRICLE = 0.12;

/**
 * A synthetic axial head CT slice: dark background, a bright elliptical skull, grey brain
 * tissue with a faint texture and noise, two dark ventricles near the centre and, for a
 * positive slice, bright round lesions inside the brain. The head's size, position and
 * rotation vary a little from slice to slice.
 *
 * Head, lesions and noise each use their own stream drawn from `rng`, so one seed rendered
 * with and without lesions gives the same head: the lesions are the only difference.
 */
export function renderPhantom(rng: Random, options: PhantomOptions): Phantom {
  const { size, lesions } = options;
  if (!Number.isInteger(size) || size < 16) {
    throw new RangeError(`phantom size must be an integer >= 16, got ${size}`);
  }
  if (!Number.isInteger(lesions) || lesions < 0) {
    throw new RangeError(`phantom lesions must be an integer >= 0, got ${lesions}`);
  }
  const { lesionRadius, lesionContrast } = checkLesionOptions(options);
  const head = drawHead(new Random(rng.uint32()), size);
  const lesionRng = new Random(rng.uint32());
  const noiseRng = new Random(rng.uint32());
  const lesionShapes = Array.from({ length: lesions }, (_, k) => ({
    ...drawLesion(lesionRng, head, lesionRadius),
    // A sub-stream of its own: the contrast range leaves the lesions' places and sizes alone.
    contrast: lesionRng.fork('contrast', k).uniform(...lesionContrast),
  }));

  const image = blankGrayImage(size, size);
  const cos = Math.cos(head.angle);
  const sin = Math.sin(head.angle);
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      // Head frame: u across, v front to back, in pixels.
      const dx = column - head.centreX;
      const dy = row - head.centreY;
      const u = cos * dx + sin * dy;
      const v = -sin * dx + cos * dy;
      const inHead = coverage(ellipseDistance(u, v, head.radiusX, head.radiusY));
      const inBrain = coverage(ellipseDistance(u, v, head.brainX, head.brainY));
      let value = BACKGROUND + (SKULL - BACKGROUND) * inHead;
      if (inBrain > 0) value += (brainValue(head, lesionShapes, u, v) - value) * inBrain;
      value += noiseRng.normal() * (inHead > 0 ? 0.015 : 0.005);
      image.data[row * size + column] = Math.min(1, Math.max(0, value));
    }
  }
  const lesionCenters = lesionShapes.map((lesion) => {
    const back = rotate(lesion.u, lesion.v, -head.angle);
    return { x: head.centreX + back.u, y: head.centreY + back.v, radius: lesion.radius };
  });
  return { image, lesionCenters };
}

/** Brain tissue with its texture, ventricles and lesions at (u, v) of the head frame. */
function brainValue(head: Head, lesions: readonly Lesion[], u: number, v: number): number {
  let value = head.tissue;
  for (const wave of head.waves) {
    value += wave.amplitude * Math.sin(wave.fu * u + wave.fv * v + wave.phase);
  }
  for (const ventricle of head.ventricles) {
    const du = u - ventricle.u;
    const dv = v - ventricle.v;
    const along = ventricle.cos * du + ventricle.sin * dv;
    const across = -ventricle.sin * du + ventricle.cos * dv;
    const inside = coverage(ellipseDistance(along, across, ventricle.radiusU, ventricle.radiusV));
    value += (VENTRICLE - value) * inside;
  }
  for (const lesion of lesions) {
    const distance = Math.sqrt((u - lesion.u) ** 2 + (v - lesion.v) ** 2);
    if (distance > lesion.radius + 1) continue;
    // On top of the tissue's texture, slightly brighter towards the centre like an enhancing mass.
    const rise = lesion.contrast * (1 - 0.2 * (distance / lesion.radius));
    value += rise * coverage(distance - lesion.radius);
  }
  return value;
}

interface Lesion {
  u: number;
  v: number;
  radius: number;
  contrast: number;
}

/** The lesion options with defaults filled in; a RangeError names a bad one. */
export function checkLesionOptions(options: LesionOptions): Required<LesionOptions> {
  const { lesionRadius = LESION_DEFAULTS.lesionRadius } = options;
  const { lesionContrast = LESION_DEFAULTS.lesionContrast } = options;
  checkRange('lesionRadius', lesionRadius);
  checkRange('lesionContrast', lesionContrast);
  return { lesionRadius, lesionContrast };
}

function checkRange(name: string, range: readonly number[]): void {
  const [low, high] = range as [number, number];
  if (!(range.length === 2 && low > 0 && low <= high && high <= 1)) {
    throw new RangeError(
      `phantom ${name} must be [low, high] with 0 < low <= high <= 1, got [${range.join(', ')}]`,
    );
  }
}

interface Head {
  centreX: number;
  centreY: number;
  angle: number;
  radiusX: number;
  radiusY: number;
  brainX: number;
  brainY: number;
  tissue: number;
  waves: Array<{ fu: number; fv: number; phase: number; amplitude: number }>;
  ventricles: Array<{
    u: number;
    v: number;
    radiusU: number;
    radiusV: number;
    cos: number;
    sin: number;
  }>;
}

function drawHead(rng: Random, size: number): Head {
  const radiusY = size * rng.uniform(0.38, 0.43);
  const radiusX = radiusY * rng.uniform(0.78, 0.88);
  const skull = Math.max(1.5, size * rng.uniform(0.03, 0.045));
  const brainX = radiusX - skull;
  const brainY = radiusY - skull;
  const spread = rng.uniform(0.13, 0.18);
  const ventricles = [-1, 1].map((side) => {
    const u = side * spread * brainX;
    const radiusU = rng.uniform(0.06, 0.09) * brainX;
    const radiusV = rng.uniform(0.2, 0.27) * brainY;
    // The two horns open towards the front, like the lateral ventricles.
    const tilt = side * rng.uniform(0.15, 0.35);
    return { u, v: -0.05 * brainY, radiusU, radiusV, cos: Math.cos(tilt), sin: Math.sin(tilt) };
  });
  return {
    centreX: size * (0.5 + rng.uniform(-0.04, 0.04)),
    centreY: size * (0.5 + rng.uniform(-0.04, 0.04)),
    angle: rng.uniform(-0.2, 0.2),
    radiusX,
    radiusY,
    brainX,
    brainY,
    tissue: rng.uniform(0.42, 0.5),
    waves: Array.from({ length: 4 }, () => ({
      fu: (rng.uniform(1, 5) * 2 * Math.PI) / size,
      fv: (rng.uniform(1, 5) * 2 * Math.PI) / size,
      phase: rng.uniform(0, 2 * Math.PI),
      amplitude: rng.uniform(0.005, 0.012),
    })),
    ventricles,
  };
}

/** A lesion well inside the brain and clear of the ventricles (in the head frame). */
function drawLesion(
  rng: Random,
  head: Head,
  radiusRange: readonly [number, number],
): Omit<Lesion, 'contrast'> {
  const radius = Math.min(head.brainX, head.brainY) * rng.uniform(...radiusRange);
  for (let attempt = 0; ; attempt++) {
    const u = rng.uniform(-0.7, 0.7) * head.brainX;
    const v = rng.uniform(-0.7, 0.7) * head.brainY;
    const insideBrain = (u / head.brainX) ** 2 + (v / head.brainY) ** 2 < 0.55;
    const clearOfVentricles = head.ventricles.every(
      (ventricle) =>
        Math.sqrt((u - ventricle.u) ** 2 + (v - ventricle.v) ** 2) > radius + ventricle.radiusV,
    );
    // A lesion too large to miss the ventricles (a third of the brain or more) may cover them.
    if (insideBrain && (clearOfVentricles || attempt >= LESION_PLACEMENT_ATTEMPTS)) {
      return { u, v, radius };
    }
  }
}

/** Draws of a lesion's centre clear of the ventricles before it may overlap them. */
const LESION_PLACEMENT_ATTEMPTS = 200;

/** Approximate signed distance in pixels to an ellipse's edge (negative inside). */
function ellipseDistance(u: number, v: number, radiusU: number, radiusV: number): number {
  return (Math.sqrt((u / radiusU) ** 2 + (v / radiusV) ** 2) - 1) * Math.min(radiusU, radiusV);
}

/** How much of a pixel lies inside a shape, from its signed distance: a one-pixel soft edge. */
function coverage(signedDistance: number): number {
  return Math.min(1, Math.max(0, 0.5 - signedDistance));
}

function rotate(u: number, v: number, angle: number): { u: number; v: number } {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return { u: cos * u + sin * v, v: -sin * u + cos * v };
}

export interface PhantomDatasetOptions extends LesionOptions {
  count: number;
  size: number;
  seed: number;
  /** Share of slices with lesions. @default 0.5 */
  positiveFraction?: number;
  /** Number of patients; consecutive slices share a patient. @default ceil(count / 4) */
  patients?: number;
}

export const PHANTOM_CLASS_NAMES = ['normal', 'lesion'] as const;

/**
 * Writes a labelled phantom set in the layout readLabels expects: images/<class>/<n>.png
 * and labels.csv with path,label,class_name,patient. Each slice has its own seed, derived
 * from the dataset seed and its index, so the files depend only on (seed, index, size).
 */
export async function writePhantomDataset(
  folder: string,
  options: PhantomDatasetOptions,
): Promise<void> {
  const { count, size, seed, positiveFraction = 0.5 } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`count must be a positive integer, got ${count}`);
  }
  if (!(positiveFraction >= 0 && positiveFraction <= 1)) {
    throw new RangeError(`positiveFraction must be in [0, 1], got ${positiveFraction}`);
  }
  const patients = options.patients ?? Math.ceil(count / 4);
  if (!Number.isInteger(patients) || patients < 1 || patients > count) {
    throw new RangeError(`patients must be an integer in [1, ${count}], got ${patients}`);
  }
  checkLesionOptions(options);
  const positives = Math.round(count * positiveFraction);
  const digits = String(count - 1).length;
  const lines = ['path,label,class_name,patient'];
  for (let index = 0; index < count; index++) {
    const rng = new Random(deriveSeed(seed, 'phantom', index));
    // Positives first, so patients are mostly all-positive or all-negative, as in real studies.
    const label = index < positives ? 1 : 0;
    const className = PHANTOM_CLASS_NAMES[label] as string;
    const lesions = label === 1 ? rng.int(1, 3) : 0;
    const { image } = renderPhantom(rng, {
      size,
      lesions,
      lesionRadius: options.lesionRadius,
      lesionContrast: options.lesionContrast,
    });
    const path = `images/${className}/${String(index).padStart(digits, '0')}.png`;
    await encodeGrayPng(image, join(folder, path));
    const patient = `p${String(Math.floor((index * patients) / count)).padStart(3, '0')}`;
    lines.push(`${path},${label},${className},${patient}`);
  }
  await writeFile(join(folder, 'labels.csv'), `${lines.join('\n')}\n`);
}
