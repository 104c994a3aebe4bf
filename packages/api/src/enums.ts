import { Type } from '@sinclair/typebox';

/** A choice among strings, as a union of literals (a string enum in the CRDs). */
export function stringEnum<const T extends string>(
  values: readonly T[],
  options: { default?: NoInfer<T>; description?: string } = {},
) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );
}
