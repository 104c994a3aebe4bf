/** A command line that cannot be carried out as given; exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseInteger(name: string, min = Number.MIN_SAFE_INTEGER) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new UsageError(`${name} must be an integer >= ${min}, got '${text}'`);
    return value;
  };
}

export function parseNumber(name: string) {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new UsageError(`${name} must be a number, got '${text}'`);
    return value;
  };
}

/** `low,high`: two numbers, as a Sweep's [low, high] ranges (their bounds are checked where used). */
export function parseRange(name: string) {
  return (text: string): [number, number] => {
    const parts = text.split(',');
    const values = parts.map(Number);
    if (parts.length !== 2 || parts.some((p) => p.trim() === '') || !values.every(Number.isFinite))
      throw new UsageError(`${name} takes low,high (two numbers), got '${text}'`);
    return values as [number, number];
  };
}

/** `--option key=value`, repeatable; values that parse as JSON (numbers, true) are typed. */
export function collectOption(
  text: string,
  options: Record<string, unknown>,
): Record<string, unknown> {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`--option takes key=value, got '${text}'`);
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // a plain string such as clamp
  }
  return { ...options, [text.slice(0, at)]: value };
}

/** `--<name> key=value`, repeatable: the values kept as text, by key. */
export function collectFilter(name: string) {
  return (text: string, filters: Record<string, string> = {}): Record<string, string> => {
    const at = text.indexOf('=');
    if (at <= 0) throw new UsageError(`--${name} takes key=value, got '${text}'`);
    return { ...filters, [text.slice(0, at)]: text.slice(at + 1) };
  };
}

export function parseFormat<T extends string>(formats: readonly T[]) {
  return (text: string): T => {
    if (!formats.includes(text as T))
      throw new UsageError(`--format must be one of ${formats.join(', ')}, got '${text}'`);
    return text as T;
  };
}
