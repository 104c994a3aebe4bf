/**
 * How long the write token must be. Anyone who guesses it can write results, so it carries
 * at least 32 random bytes: 64 hex digits (`openssl rand -hex 32`) or, in any other
 * alphabet such as base64, 43 characters (`openssl rand -base64 32`).
 */
export const MIN_HEX_TOKEN_LENGTH = 64;
export const MIN_TOKEN_LENGTH = 43;

/** Why `token` is too weak to guard writes, or undefined when it is long enough. */
export function writeTokenProblem(token: string): string | undefined {
  const hex = /^[0-9a-fA-F]*$/.test(token);
  const needed = hex ? MIN_HEX_TOKEN_LENGTH : MIN_TOKEN_LENGTH;
  if (token.length >= needed) return undefined;
  const what = hex ? `${token.length} hex digits` : `${token.length} characters`;
  return `the write token has ${what}; it needs 32 random bytes: ${MIN_HEX_TOKEN_LENGTH} hex digits (openssl rand -hex 32) or ${MIN_TOKEN_LENGTH} base64 characters (openssl rand -base64 32)`;
}
