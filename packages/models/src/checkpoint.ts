import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/**
 * A checkpoint file: a 4-byte little-endian header length, a JSON header naming every tensor
 * (shape, dtype, byte offset) plus free-form metadata, then the data as float32 (int32
 * tensors, such as step counters, are exact below 2^24). Written to a temporary
 * file and renamed, so a crash never leaves a half-written checkpoint.
 */
interface Header {
  format: 'masksweep-tensors-1';
  tensors: Array<{ name: string; shape: number[]; dtype: 'float32' | 'int32'; offset: number }>;
  meta: Record<string, unknown>;
}

export function saveTensors(
  file: string,
  tensors: Map<string, tf.Tensor>,
  meta: Record<string, unknown> = {},
): void {
  const entries = [...tensors].map(([name, tensor]) => {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32')
      throw new Error(`cannot save ${name} of dtype ${tensor.dtype}`);
    return {
      name,
      data: Float32Array.from(tensor.dataSync()),
      shape: tensor.shape,
      dtype: tensor.dtype,
    };
  });
  let offset = 0;
  const header: Header = {
    format: 'masksweep-tensors-1',
    tensors: entries.map(({ name, shape, dtype, data }) => {
      const entry = { name, shape, dtype, offset };
      offset += data.length * 4;
      return entry;
    }),
    meta,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const body = Buffer.alloc(4 + headerBytes.length + offset);
  body.writeUInt32LE(headerBytes.length, 0);
  headerBytes.copy(body, 4);
  let at = 4 + headerBytes.length;
  for (const { data } of entries) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(body, at);
    at += data.byteLength;
  }
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  writeFileSync(partial, body);
  renameSync(partial, file);
}

/** The tensors (the caller disposes them) and the metadata of a checkpoint file. */
export function loadTensors(file: string): {
  tensors: Map<string, tf.Tensor>;
  meta: Record<string, unknown>;
} {
  const body = readFileSync(file);
  const { header, headerLength } = parseHeader(file, body);
  const start = 4 + headerLength;
  const tensors = new Map<string, tf.Tensor>();
  for (const { name, shape, dtype, offset } of header.tensors) {
    const count = shape.reduce((a, b) => a * b, 1);
    if (start + offset + count * 4 > body.length)
      throw new Error(`${file} is truncated at ${name}`);
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(body.subarray(start + offset, start + offset + count * 4));
    tensors.set(
      name,
      dtype === 'int32' ? tf.tensor(Int32Array.from(data), shape, 'int32') : tf.tensor(data, shape),
    );
  }
  return { tensors, meta: header.meta };
}

/** The metadata of a checkpoint file, without reading its tensors. */
export function readCheckpointMeta(file: string): Record<string, unknown> {
  const descriptor = openSync(file, 'r');
  try {
    const length = Buffer.alloc(4);
    readSync(descriptor, length, 0, 4, 0);
    const head = Buffer.alloc(4 + length.readUInt32LE(0));
    readSync(descriptor, head, 0, head.length, 0);
    return parseHeader(file, head).header.meta;
  } finally {
    closeSync(descriptor);
  }
}

function parseHeader(file: string, body: Buffer): { header: Header; headerLength: number } {
  const headerLength = body.readUInt32LE(0);
  let header: Header;
  try {
    header = JSON.parse(body.subarray(4, 4 + headerLength).toString('utf8')) as Header;
  } catch {
    throw new Error(`${file} is not a masksweep checkpoint (unreadable header)`);
  }
  if (header.format !== 'masksweep-tensors-1')
    throw new Error(`${file} is not a masksweep checkpoint`);
  return { header, headerLength };
}

/** Writes values into variables of the same names; every variable must be present. */
export function assignByName(
  variables: Map<string, tf.Variable>,
  values: Map<string, tf.Tensor>,
  source: string,
): void {
  for (const [name, variable] of variables) {
    const value = values.get(name);
    if (!value) throw new Error(`${source} has no ${name}`);
    if (value.shape.join() !== variable.shape.join()) {
      throw new Error(
        `${source}: ${name} has shape [${value.shape}], expected [${variable.shape}]`,
      );
    }
    variable.assign(value);
  }
}
