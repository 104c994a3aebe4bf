import { describe, expect, it } from 'vitest';
import { convnextEncoderMacs, sparkDecoderMacs } from './macs.js';

// docs/algorithms.md#compute: ConvNeXt-S 8.69 G (own count 8.68), ConvNeXt-T 4.46 (4.45), SparK's
// decoder at D = 512 4.50 G plus 0.54 G of densify projections, at 224 px with 3 channels.
describe('MAC counts', () => {
  it('match the published ConvNeXt-S and -T figures', () => {
    const small = convnextEncoderMacs({
      depths: [3, 3, 27, 3],
      widths: [96, 192, 384, 768],
      inChannels: 3,
      size: 224,
    });
    const tiny = convnextEncoderMacs({
      depths: [3, 3, 9, 3],
      widths: [96, 192, 384, 768],
      inChannels: 3,
      size: 224,
    });
    expect(small / 1e9).toBeCloseTo(8.68, 1);
    expect(tiny / 1e9).toBeCloseTo(4.45, 1);
  });

  it('match the decoder and densify count at D = 512', () => {
    expect(sparkDecoderMacs([96, 192, 384, 768], 512, 224, 3) / 1e9).toBeCloseTo(4.5 + 0.54, 1);
  });
});
