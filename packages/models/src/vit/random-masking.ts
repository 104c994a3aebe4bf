import type { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';

/**
 * One batch's MAE random mask (docs/algorithms.md#mae-random-mask), drawn in JavaScript from a
 * seeded generator.
 */
export interface MaeMask {
  /** Visible tokens per image: int(L · (1 − maskRatio)), Python's floor. */
  keep: number;
  /** Per image, the token indices by ascending noise (ids_shuffle): the first `keep` are visible. */
  idsShuffle: number[][];
  /** Per image, the inverse permutation (ids_restore): token j sits at idsRestore[j] of the shuffle. */
  idsRestore: number[][];
  /** Per image, in token order: 1 = removed, 0 = visible. */
  mask: number[][];
}

/** MAE's visible-token count, int(L · (1 − r)): 49 of 196 at 75 %, 4 of 16. */
export function maeKeepCount(tokens: number, maskRatio: number): number {
  if (!(maskRatio > 0 && maskRatio < 1))
    throw new RangeError(`mask ratio must be in (0, 1), got ${maskRatio}`);
  return Math.floor(tokens * (1 - maskRatio));
}

/**
 * MAE's random masking: per image, L uniform noise values are drawn, the tokens sorted by
 * them (ascending: small is kept), the first int(L · (1 − r)) kept. Drawn independently
 * per image, from `rng` only, so a seed gives the same masks everywhere.
 */
export function maeRandomMask(
  batch: number,
  tokens: number,
  maskRatio: number,
  rng: Random,
): MaeMask {
  const keep = maeKeepCount(tokens, maskRatio);
  const idsShuffle: number[][] = [];
  const idsRestore: number[][] = [];
  const mask: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const noise = Array.from({ length: tokens }, () => rng.float());
    const order = Array.from({ length: tokens }, (_, i) => i).sort(
      (i, j) => (noise[i] as number) - (noise[j] as number),
    );
    const restore = new Array<number>(tokens);
    order.forEach((token, position) => {
      restore[token] = position;
    });
    idsShuffle.push(order);
    idsRestore.push(restore);
    mask.push(restore.map((position) => (position < keep ? 0 : 1)));
  }
  return { keep, idsShuffle, idsRestore, mask };
}

/** The visible tokens' indices as [B, keep] int32 (ids_keep), for the encoder's gather. */
export function keptIds(mask: MaeMask): tf.Tensor2D {
  return tf.tensor2d(
    mask.idsShuffle.map((order) => order.slice(0, mask.keep)),
    [mask.idsShuffle.length, mask.keep],
    'int32',
  );
}

/** ids_restore as [B, L] int32, for the decoder's un-shuffle. */
export function restoreIds(mask: MaeMask): tf.Tensor2D {
  const length = mask.idsRestore[0]?.length ?? 0;
  return tf.tensor2d(mask.idsRestore, [mask.idsRestore.length, length], 'int32');
}

/** The removed-patch indicator as [B, L] float (1 = removed), the loss's weights. */
export function removedMap(mask: MaeMask): tf.Tensor2D {
  const length = mask.mask[0]?.length ?? 0;
  return tf.tensor2d(mask.mask, [mask.mask.length, length]);
}
