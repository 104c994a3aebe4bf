/**
 * Multiply-accumulates of ViT forward passes per image, counted from the layer shapes as
 * convnext/macs.ts counts ConvNeXt's (linear layers and attention's two products).
 */
import { maeKeepCount } from './random-masking.js';

/** `depth` pre-norm transformer blocks of width D over N tokens: qkv, QK^T, AV, proj, MLP 4D. */
export function transformerMacs(tokens: number, width: number, depth: number): number {
  return depth * (12 * tokens * width * width + 2 * tokens * tokens * width);
}

export interface MffShape {
  imageSize: number;
  patchSize: number;
  inChannels: number;
  width: number;
  depth: number;
  decoderWidth: number;
  decoderDepth: number;
  /** Fraction of patches MAE removes. */
  maskRatio: number;
  /** Levels MFF fuses (each but the last has its own D x D linear). */
  fusionLevels: number;
}

/** The ViT classifier's backbone: every patch embedded, all tokens and the cls token encoded. */
export function vitMacs(
  shape: Pick<MffShape, 'imageSize' | 'patchSize' | 'inChannels' | 'width' | 'depth'>,
): number {
  const patches = (shape.imageSize / shape.patchSize) ** 2;
  const embed = patches * shape.patchSize ** 2 * shape.inChannels * shape.width;
  return embed + transformerMacs(patches + 1, shape.width, shape.depth);
}

/**
 * An MFF pre-training forward: every patch embedded, the encoder on the visible tokens and
 * the cls token, the fusion linears, and MAE's decoder
 * over all tokens with its embedding and pixel prediction.
 */
export function mffMacs(shape: MffShape): number {
  const patches = (shape.imageSize / shape.patchSize) ** 2;
  const pixels = shape.patchSize ** 2 * shape.inChannels;
  const encoded = maeKeepCount(patches, shape.maskRatio) + 1;
  const { width, decoderWidth } = shape;
  return (
    patches * pixels * width +
    transformerMacs(encoded, width, shape.depth) +
    (shape.fusionLevels - 1) * encoded * width * width +
    encoded * width * decoderWidth +
    transformerMacs(patches + 1, decoderWidth, shape.decoderDepth) +
    (patches + 1) * decoderWidth * pixels
  );
}
