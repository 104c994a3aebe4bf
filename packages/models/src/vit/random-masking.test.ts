import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { Random } from '@masksweep/random';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { keptIds, maeKeepCount, maeRandomMask, removedMap, restoreIds } from './random-masking.js';
import { gatherTokens } from './tokens.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('MAE random masking', () => {
  it('keeps int(L (1 - r)) tokens: 49 of 196 and 4 of 16 at 75 %, floor elsewhere', () => {
    expect(maeKeepCount(196, 0.75)).toBe(49);
    expect(maeKeepCount(16, 0.75)).toBe(4);
    expect(maeKeepCount(49, 0.75)).toBe(12); // 12.25: floor, where SparK would round
    expect(maeKeepCount(10, 0.55)).toBe(4); // 4.5
    expect(() => maeKeepCount(16, 1)).toThrow(/mask ratio/);
    for (const length of [16, 49, 196]) {
      const mask = maeRandomMask(3, length, 0.75, new Random(length));
      expect(mask.keep).toBe(Math.floor(0.25 * length));
      for (const row of mask.mask) expect(row.reduce((a, b) => a + b, 0)).toBe(length - mask.keep);
    }
  });

  it('marks removed tokens 1 exactly where the shuffle puts them after the kept ones', () => {
    const mask = maeRandomMask(4, 16, 0.75, new Random(1));
    mask.idsShuffle.forEach((order, b) => {
      expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 16 }, (_, i) => i));
      order.forEach((token, position) => {
        expect(mask.idsRestore[b]?.[token]).toBe(position);
        expect(mask.mask[b]?.[token]).toBe(position < mask.keep ? 0 : 1);
      });
    });
  });

  it('is drawn from the seed alone, per image', () => {
    const a = maeRandomMask(2, 16, 0.75, new Random(9));
    expect(maeRandomMask(2, 16, 0.75, new Random(9))).toEqual(a);
    expect(maeRandomMask(2, 16, 0.75, new Random(10)).idsShuffle).not.toEqual(a.idsShuffle);
    expect(a.idsShuffle[0]).not.toEqual(a.idsShuffle[1]);
  });

  it('gathers the kept tokens, and ids_restore puts [kept, removed] back in token order', () => {
    const [batch, length, width] = [2, 16, 3];
    const mask = maeRandomMask(batch, length, 0.75, new Random(4));
    const tokens = tf.tensor3d(
      Array.from({ length: batch * length * width }, (_, i) => i),
      [batch, length, width],
    );
    const before = tf.memory().numTensors;
    const { kept, restored } = tf.tidy(() => {
      const visible = gatherTokens(tokens, keptIds(mask));
      const removedIds = tf.tensor2d(
        mask.idsShuffle.map((order) => order.slice(mask.keep)),
        [batch, length - mask.keep],
        'int32',
      );
      const shuffled = tf.concat([visible, gatherTokens(tokens, removedIds)], 1) as tf.Tensor3D;
      return {
        kept: visible.arraySync(),
        restored: gatherTokens(shuffled, restoreIds(mask)).arraySync(),
      };
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(kept[1]?.[0]).toEqual(
      (tokens.arraySync()[1] as number[][])[mask.idsShuffle[1]?.[0] as number],
    );
    expect(kept[0]).toHaveLength(mask.keep);
    expect(restored).toEqual(tokens.arraySync());
    const removed = removedMap(mask);
    expect(removed.arraySync()).toEqual(mask.mask);
    tf.dispose([tokens, removed]);
  });
});
