import { describe, expect, it } from 'vitest';
import { mffMacs, vitMacs } from './macs.js';

// docs/algorithms.md#compute, per 224 px RGB image: ViT-B/16 17.58 G (own count 17.56); MFF's
// pre-training: encoder on 49 + 1 tokens 4.41 G, fusion linears 0.15 G, MAE decoder 5.37 G.
const vitB = { imageSize: 224, patchSize: 16, inChannels: 3, width: 768, depth: 12 };

describe('ViT MAC counts', () => {
  it('match the published ViT-B/16 figure', () => {
    expect(vitMacs(vitB) / 1e9).toBeCloseTo(17.56, 2);
  });

  it("match MFF's encoder, fusion and decoder figures", () => {
    const shape = { ...vitB, decoderWidth: 512, decoderDepth: 8, maskRatio: 0.75, fusionLevels: 6 };
    expect(mffMacs(shape) / 1e9).toBeCloseTo(4.41 + 0.15 + 5.37, 1);
    // One level has no fusion linear: the difference is the five of ViT-B.
    expect((mffMacs(shape) - mffMacs({ ...shape, fusionLevels: 1 })) / 1e9).toBeCloseTo(0.15, 2);
  });
});
