import { type GrayImage, renderPhantom } from '@masksweep/data';
import { Random } from '@masksweep/random';
import { describe, expect, it } from 'vitest';
import {
  adjustBrightness,
  adjustContrast,
  applyPhotometric,
  drawPhotometric,
  gaussianBlur,
  simclrViews,
} from './views.js';

const phantom = renderPhantom(new Random(3), { size: 48, lesions: 1 }).image;

function image(values: number[], width: number): GrayImage {
  return { width, height: values.length / width, data: Float32Array.from(values) };
}

function mean(data: Float32Array): number {
  return data.reduce((a, b) => a + b, 0) / data.length;
}

describe('SimCLR views', () => {
  it('are the same for the same seed, differ between seeds and between the two views', () => {
    const [a1, a2] = simclrViews(phantom, new Random(7), { size: 32 });
    const [b1, b2] = simclrViews(phantom, new Random(7), { size: 32 });
    const [c1] = simclrViews(phantom, new Random(8), { size: 32 });
    expect(b1.data).toEqual(a1.data);
    expect(b2.data).toEqual(a2.data);
    expect(c1.data).not.toEqual(a1.data);
    expect(a2.data).not.toEqual(a1.data);
  });

  it('have the asked size and stay in [0, 1]', () => {
    const rng = new Random(1);
    for (let i = 0; i < 20; i++) {
      for (const view of simclrViews(phantom, rng, { size: 24 })) {
        expect([view.width, view.height, view.data.length]).toEqual([24, 24, 576]);
        expect(Math.min(...view.data)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...view.data)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('draw the jitter 80 % and the blur 50 % of the time, within their ranges', () => {
    const rng = new Random(2);
    const draws = Array.from({ length: 4000 }, () => drawPhotometric(rng));
    const jittered = draws.filter((d) => d.jitter);
    const blurred = draws.filter((d) => d.blurSigma !== undefined);
    expect(jittered.length / draws.length).toBeCloseTo(0.8, 1);
    expect(blurred.length / draws.length).toBeCloseTo(0.5, 1);
    const brightness = jittered.map((d) => d.jitter?.brightness as number);
    const contrast = jittered.map((d) => d.jitter?.contrast as number);
    const sigmas = blurred.map((d) => d.blurSigma as number);
    for (const values of [brightness, contrast]) {
      expect(Math.min(...values)).toBeGreaterThanOrEqual(0.2);
      expect(Math.min(...values)).toBeLessThan(0.25);
      expect(Math.max(...values)).toBeLessThan(1.8);
      expect(Math.max(...values)).toBeGreaterThan(1.75);
    }
    expect(Math.min(...sigmas)).toBeGreaterThanOrEqual(0.1);
    expect(Math.max(...sigmas)).toBeLessThan(2);
    const brightnessFirst = jittered.filter((d) => d.jitter?.order[0] === 'brightness').length;
    expect(brightnessFirst / jittered.length).toBeCloseTo(0.5, 1);
  });

  it('follow the options and refuse impossible ones', () => {
    const rng = new Random(4);
    const never = drawPhotometric(rng, { jitterProbability: 0, blurProbability: 0 });
    expect(never).toEqual({});
    expect(applyPhotometric(phantom, never)).toBe(phantom);
    const always = drawPhotometric(rng, {
      jitterProbability: 1,
      blurProbability: 1,
      blurSigma: [1, 1],
    });
    expect(always.blurSigma).toBe(1);
    expect(always.jitter?.order.slice().sort()).toEqual(['brightness', 'contrast']);
    expect(() => drawPhotometric(rng, { jitterProbability: 1.5 })).toThrow(
      'jitterProbability must be in [0, 1], got 1.5',
    );
    expect(() => drawPhotometric(rng, { blurSigma: [0, 2] })).toThrow(
      'blurSigma must satisfy 0 < min <= max, got [0, 2]',
    );
    expect(() => drawPhotometric(rng, { contrast: -1 })).toThrow('contrast must be >= 0, got -1');
  });
});

describe('photometric adjustments', () => {
  it('scale brightness and contrast as PIL does, clipped to [0, 1]', () => {
    const x = image([0, 0.2, 0.4, 0.6], 2);
    expect(Array.from(adjustBrightness(x, 2).data)).toEqual([0, 0.4, 0.8, 1].map(Math.fround));
    // mean 0.3: 0.3 + 2·(x − 0.3) = [-0.3, 0.1, 0.5, 0.9], clipped
    const contrasted = adjustContrast(x, 2).data;
    [0, 0.1, 0.5, 0.9].forEach((v, i) => {
      expect(contrasted[i]).toBeCloseTo(v, 6);
    });
    // factor 0 gives the mean everywhere
    for (const v of adjustContrast(x, 0).data) expect(v).toBeCloseTo(0.3, 6);
    // the order of the two matters when clipping bites
    const both = (order: Array<'brightness' | 'contrast'>) =>
      applyPhotometric(x, { jitter: { brightness: 2, contrast: 2, order } }).data;
    expect(both(['brightness', 'contrast'])).not.toEqual(both(['contrast', 'brightness']));
  });

  it('blur with a normalised Gaussian: constants stay, an impulse spreads symmetrically', () => {
    const flat = gaussianBlur(image(new Array(25).fill(0.5), 5), 1.5);
    for (const v of flat.data) expect(v).toBeCloseTo(0.5, 6);
    const impulse = new Array(81).fill(0);
    impulse[40] = 1;
    const spread = gaussianBlur(image(impulse, 9), 1).data;
    expect(spread.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(spread[40]).toBeLessThan(0.2);
    expect(spread[39]).toBeCloseTo(spread[41] as number, 7);
    expect(spread[31]).toBeCloseTo(spread[49] as number, 7);
    expect(spread[39]).toBeCloseTo(spread[31] as number, 7);
    // sigma 1 at distance 1 against the centre: exp(-1/2)
    expect((spread[39] as number) / (spread[40] as number)).toBeCloseTo(Math.exp(-0.5), 5);
    expect(mean(gaussianBlur(phantom, 2).data)).toBeCloseTo(mean(phantom.data), 2);
  });
});
