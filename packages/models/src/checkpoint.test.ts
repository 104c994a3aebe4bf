import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignByName, loadTensors, readCheckpointMeta, saveTensors } from './checkpoint.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('checkpoint files', () => {
  it('round-trip tensors and metadata, leaving no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    const file = join(dir, 'a', 'weights.bin');
    const tensors = new Map<string, tf.Tensor>([
      [
        'encoder.x',
        tf.tensor([
          [1.5, -2],
          [3, 4],
        ]),
      ],
      ['step', tf.scalar(7, 'int32')],
    ]);
    saveTensors(file, tensors, { epoch: 3 });
    const { tensors: loaded, meta } = loadTensors(file);
    expect(meta).toEqual({ epoch: 3 });
    expect(readCheckpointMeta(file)).toEqual({ epoch: 3 });
    expect(loaded.get('encoder.x')?.arraySync()).toEqual([
      [1.5, -2],
      [3, 4],
    ]);
    expect(loaded.get('step')?.shape).toEqual([]);
    expect(loaded.get('step')?.dtype).toBe('int32');
    expect(loaded.get('step')?.dataSync()[0]).toBe(7);
    expect(readdirSync(join(dir, 'a'))).toEqual(['weights.bin']);
  });

  it('refuses a file that is not a checkpoint or is truncated, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, Buffer.from([3, 0, 0, 0, 120, 121, 122]));
    expect(() => loadTensors(junk)).toThrow(/junk\.bin is not a masksweep checkpoint/);
    const file = join(dir, 'cut.bin');
    saveTensors(file, new Map([['w', tf.ones([100])]]));
    const body = readFileSync(file);
    writeFileSync(file, body.subarray(0, body.length - 8));
    expect(() => loadTensors(file)).toThrow(/cut\.bin is truncated at w/);
  });

  it('assigns by name and names what is missing or misshapen', () => {
    const target = new Map([['w', tf.variable(tf.zeros([2]))]]);
    assignByName(target, new Map([['w', tf.tensor([1, 2])]]), 'ckpt');
    expect(target.get('w')?.arraySync()).toEqual([1, 2]);
    expect(() => assignByName(target, new Map(), 'ckpt')).toThrow(/ckpt has no w/);
    expect(() => assignByName(target, new Map([['w', tf.zeros([3])]]), 'ckpt')).toThrow(
      /w has shape \[3\], expected \[2\]/,
    );
  });
});
