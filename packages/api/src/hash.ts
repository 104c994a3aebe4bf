import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, so equal values give equal text. Written out
 * by hand rather than by a JSON.stringify replacer that rebuilds every object: expansion
 * hashes each trial's config three times, and the replacer made 10,000 trials cost seconds.
 * The text is the replacer's to the byte (trial names are hashes of it; hash.test.ts
 * compares the two): keys sorted by code unit, except that array-index keys come first in
 * numeric order, as a rebuilt object orders its properties.
 */
export function canonicalJson(value: unknown, memo?: CanonicalMemo): string {
  return write(value, '', memo) as string;
}

/**
 * The text of objects already written, by identity: a caller hashing many values that share
 * parts (the configs of one expansion share data, model and budgets) writes each part once.
 * Only for values nobody changes while the memo lives.
 */
export type CanonicalMemo = WeakMap<object, string>;

function write(input: unknown, key: string, memo: CanonicalMemo | undefined): string | undefined {
  let value = input;
  if (value !== null && typeof value === 'object' && typeof (value as Json).toJSON === 'function')
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value); // throws, as JSON.stringify does
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value))
        return `[${value.map((item, i) => write(item, String(i), memo) ?? 'null').join(',')}]`;
      const known = memo?.get(value);
      if (known !== undefined) return known;
      const parts: string[] = [];
      for (const name of orderedKeys(value as Json)) {
        const text = write((value as Json)[name], name, memo);
        if (text !== undefined) parts.push(`${JSON.stringify(name)}:${text}`);
      }
      const text = `{${parts.join(',')}}`;
      memo?.set(value, text);
      return text;
    }
    default:
      return undefined; // undefined, functions and symbols are left out
  }
}

type Json = Record<string, unknown>;

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

function orderedKeys(object: Json): string[] {
  const keys = Object.keys(object).filter((k) => object[k] !== undefined);
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const indices = keys.filter(isArrayIndex);
  if (indices.length === 0) return keys;
  indices.sort((a, b) => Number(a) - Number(b));
  return [...indices, ...keys.filter((k) => !isArrayIndex(k))];
}

/** A key an object orders first, numerically: an integer string below 2^32 - 1. */
function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
}

/** A short, stable hex digest of a value's canonical JSON (40 bits: collisions are remote at 10^5 trials). */
export function stableHash(value: unknown, length = 10, memo?: CanonicalMemo): string {
  return createHash('sha256').update(canonicalJson(value, memo)).digest('hex').slice(0, length);
}
