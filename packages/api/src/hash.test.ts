import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './hash.js';

/** The former canonicalJson, a JSON.stringify replacer: the text every trial name hashes. */
function replacerJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item && typeof item === 'object' && !Array.isArray(item)) {
      return Object.fromEntries(
        Object.entries(item as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return item;
  });
}

const keyArb = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '0',
    '1',
    '2',
    '10',
    '01',
    '-1',
    '4294967294',
    '4294967295',
    '1.5',
    'a',
    'B',
    'é',
  ),
);

describe('canonicalJson', () => {
  it('writes the text of the former replacer for any JSON-like value', () => {
    const valueArb = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(keyArb, tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    fc.assert(
      fc.property(valueArb, (value) => {
        expect(canonicalJson(value)).toBe(replacerJson(value));
      }),
      { numRuns: 2000, seed: 15 },
    );
  });

  it('sorts keys at every level, leaves undefined out and writes NaN as null', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, undefined], c: Number.NaN }, e: undefined })).toBe(
      '{"a":{"c":null,"d":[3,null]},"b":1}',
    );
  });
});
