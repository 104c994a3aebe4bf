/**
 * Writes that may be repeated: a controller that retries a pass, or restarts in the middle of
 * one, makes each again and finds it done. "Already so" is no error.
 */
import type { KubeClient, KubeObject, RequestOptions } from './client.js';
import { ConflictError, type KubeApiError, NotFoundError } from './errors.js';

/** The call's answer, or `already` when it fails with an error of kind `done` (already so). */
async function unlessAlready<T, A>(
  call: Promise<T>,
  done: new (...args: never[]) => KubeApiError,
  already: A,
): Promise<T | A> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof done) return already;
    throw error;
  }
}

/** Creates the object in `collection`; undefined when one of its name exists already. */
export function createIfAbsent<T extends KubeObject>(
  client: KubeClient,
  collection: string,
  object: T,
  options?: RequestOptions,
): Promise<T | undefined> {
  return unlessAlready(
    client.call<T>('POST', collection, object, options),
    ConflictError,
    undefined,
  );
}

/**
 * Deletes the object at `path` with background propagation (its dependents go after it);
 * false when it was gone already.
 */
export function deleteIfPresent(client: KubeClient, path: string): Promise<boolean> {
  const deleted = client.call('DELETE', `${path}?propagationPolicy=Background`).then(() => true);
  return unlessAlready(deleted, NotFoundError, false);
}

/**
 * Merge-patches the status subresource of the object at `path` (a field set to null is
 * removed); false when the object is gone (the next pass sees that).
 */
export function patchStatus(client: KubeClient, path: string, status: unknown): Promise<boolean> {
  const patched = client.call('PATCH', `${path}/status`, { status }).then(() => true);
  return unlessAlready(patched, NotFoundError, false);
}

/** Whether the object at `path` exists (a GET, past any cache). */
export function exists(client: KubeClient, path: string): Promise<boolean> {
  return unlessAlready(
    client.call('GET', path).then(() => true),
    NotFoundError,
    false,
  );
}
