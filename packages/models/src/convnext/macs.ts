/**
 * Multiply-accumulates of one forward pass per image, counted from the layer shapes (convs
 * and linear layers; norms and activations are negligible). A training step costs about
 * 3 forward passes, i.e. 6 x MACs floating-point operations.
 */

export interface EncoderShape {
  depths: number[];
  widths: number[];
  inChannels: number;
  /** Input side in px. */
  size: number;
}

export function convnextEncoderMacs({ depths, widths, inChannels, size }: EncoderShape): number {
  let macs = 0;
  widths.forEach((c, s) => {
    const side = size / 2 ** (s + 2);
    const area = side * side;
    macs += s === 0 ? area * c * 16 * inChannels : area * c * 4 * (widths[s - 1] as number);
    // a block: 7x7 depthwise, then C -> 4C -> C point-wise
    macs += (depths[s] as number) * area * c * (49 + 8 * c);
  });
  return macs;
}

/** SparK's densify projections and light decoder at decoder width D. */
export function sparkDecoderMacs(
  widths: number[],
  decoderWidth: number,
  size: number,
  outChannels: number,
): number {
  const coarse = size / 32;
  let macs = 0;
  [...widths].reverse().forEach((c, i) => {
    const out = decoderWidth / 2 ** i;
    const side = coarse * 2 ** i;
    if (!(i === 0 && c === out)) macs += side * side * c * out * (i === 0 ? 1 : 9);
  });
  for (let k = 0; k < 5; k++) {
    const c = decoderWidth / 2 ** k;
    const inSide = coarse * 2 ** k;
    const outArea = 4 * inSide * inSide;
    macs += inSide * inSide * 16 * c * c; // transposed conv 4x4 / 2
    macs += outArea * 9 * c * c + outArea * 9 * c * (c / 2); // two 3x3 convs
  }
  return macs + size * size * (decoderWidth / 32) * outChannels;
}
