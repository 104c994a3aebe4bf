/**
 * Seeded pseudo-random numbers. Every random choice in masksweep goes through a `Random`
 * so that the same config and seed give the same masks, augmentations and splits.
 *
 * The generator is xoshiro128** (32-bit state words, fast in JavaScript without BigInt),
 * seeded through splitmix32 so that nearby seeds give unrelated streams.
 */

const UINT32 = 2 ** 32;

/** A 32-bit hash of a string (FNV-1a then a murmur3 finaliser), stable across platforms. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A seed for a sub-stream: the same (seed, labels) always give the same number, and
 * different labels give unrelated streams, e.g. `deriveSeed(trialSeed, 'mask', epoch)`.
 */
export function deriveSeed(seed: number, ...labels: Array<string | number>): number {
  return hashString(`${seed >>> 0}/${labels.join('/')}`);
}

function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed >= UINT32) {
    throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return seed;
}

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** The seed this generator was made from. */
  readonly seed: number;

  constructor(seed: number) {
    this.seed = checkSeed(seed);
    let x = seed >>> 0;
    const splitmix = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return mix32(x);
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  float(): number {
    const high = this.uint32() >>> 5; // 27 bits
    const low = this.uint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform in [low, high) (or [high, low) when reversed, like Python's random.uniform). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.float();
  }

  /** Uniform integer in [low, high], both inclusive, without modulo bias. */
  int(low: number, high: number): number {
    if (!Number.isInteger(low) || !Number.isInteger(high) || high < low) {
      throw new RangeError(`int(low, high) needs integers with low <= high, got ${low}, ${high}`);
    }
    const span = high - low + 1;
    if (span > UINT32) throw new RangeError(`int range too large: ${span}`);
    // 2^32 mod span and draw mod span, without `%` on numbers of 2^31 and more: V8 does
    // those in floating point (fmod), which took a third of a bootstrap's time. The values
    // are the same: a quotient below 2^53 divides exactly enough for Math.floor.
    const limit = UINT32 - ((UINT32 - span) % span);
    let draw = this.uint32();
    while (draw >= limit) draw = this.uint32();
    return low + (draw - Math.floor(draw / span) * span);
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** Shuffles in place (Fisher-Yates) and returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** k distinct items drawn uniformly without replacement, in draw order. */
  sample<T>(items: readonly T[], k: number): T[] {
    if (!Number.isInteger(k) || k < 0 || k > items.length) {
      throw new RangeError(`cannot sample ${k} of ${items.length} items`);
    }
    const pool = items.slice();
    for (let i = 0; i < k; i++) {
      const j = this.int(i, pool.length - 1);
      const tmp = pool[i] as T;
      pool[i] = pool[j] as T;
      pool[j] = tmp;
    }
    return pool.slice(0, k);
  }

  /** Standard normal (Box-Muller; one value per call for a simple, reproducible stream). */
  normal(): number {
    let u = this.float();
    while (u === 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang; shape < 1 by the boosting rule. */
  gamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) {
      throw new RangeError(`gamma shape must be a positive number, got ${shape}`);
    }
    if (shape < 1) {
      let u = this.float();
      while (u === 0) u = this.float();
      return this.gamma(shape + 1) * u ** (1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.float();
      if (u < 1 - 0.0331 * x ** 4) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** An independent generator for a named sub-stream of this one's seed. */
  fork(...labels: Array<string | number>): Random {
    return new Random(deriveSeed(this.seed, ...labels));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
