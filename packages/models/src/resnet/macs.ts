/**
 * Multiply-accumulates of one ResNet forward pass per image, counted from the layer shapes
 * as convnext/macs.ts counts ConvNeXt's (convolutions and linear layers only).
 */
import { BLOCK_EXPANSION, RESNET_LAYOUTS, RESNET_WIDTHS, type ResNetDepth } from './resnet.js';

export interface ResNetShape {
  depth: ResNetDepth;
  widths?: readonly number[];
  inChannels: number;
  /** Input side in px. */
  size: number;
}

/** The backbone: stem, then the four stages (PyTorch style: the stride in the 3x3 conv). */
export function resnetMacs({
  depth,
  widths = RESNET_WIDTHS,
  inChannels,
  size,
}: ResNetShape): number {
  const { block, depths } = RESNET_LAYOUTS[depth];
  const expansion = BLOCK_EXPANSION[block];
  const halve = (side: number) => Math.ceil(side / 2);
  let side = halve(size);
  let macs = side * side * 49 * inChannels * (widths[0] as number); // 7x7/2 stem
  side = halve(side); // 3x3/2 max pool
  let channels = widths[0] as number;
  widths.forEach((width, s) => {
    for (let b = 0; b < (depths[s] as number); b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const inSide = side;
      side = stride === 2 ? halve(side) : side;
      const inArea = inSide * inSide;
      const area = side * side;
      const out = width * expansion;
      macs +=
        block === 'basic'
          ? area * 9 * channels * width + area * 9 * width * width
          : inArea * channels * width + area * 9 * width * width + area * width * out;
      if (stride !== 1 || channels !== out) macs += area * channels * out;
      channels = out;
    }
  });
  return macs;
}

/** SimCLR's NonLinearNeck: fc in -> hidden, fc hidden -> out (the batch norms are negligible). */
export function nonLinearNeckMacs(
  inChannels: number,
  hidChannels: number,
  outChannels: number,
): number {
  return inChannels * hidChannels + hidChannels * outChannels;
}
