import { describe, expect, it } from 'vitest';
import { nonLinearNeckMacs, resnetMacs } from './macs.js';

// docs/algorithms.md#compute: ResNet-50 4.12 G per 224 px RGB view (4.09 G of it convolutions, as
// counted here), SimCLR's neck about 4.5 M; ResNet-18 1.82 G (torchvision, with its fc).
describe('ResNet MAC counts', () => {
  it('match the published ResNet-50 and ResNet-18 figures', () => {
    expect(resnetMacs({ depth: 50, inChannels: 3, size: 224 }) / 1e9).toBeCloseTo(4.09, 2);
    expect(resnetMacs({ depth: 18, inChannels: 3, size: 224 }) / 1e9).toBeCloseTo(1.81, 2);
  });

  it("match SimCLR's neck at ResNet-50 widths", () => {
    expect(nonLinearNeckMacs(2048, 2048, 128) / 1e6).toBeCloseTo(4.46, 2);
  });

  it('scale with the stage widths as the square for all but the stem', () => {
    const full = resnetMacs({ depth: 18, inChannels: 1, size: 64 });
    const half = resnetMacs({ depth: 18, widths: [32, 64, 128, 256], inChannels: 1, size: 64 });
    const stem = 32 * 32 * 49 * 64;
    expect((half - stem / 2) * 4).toBeCloseTo(full - stem, -1);
  });
});
