/**
 * Writes that may be repeated: a controller that retries a pass, or restarts in the middle of
 * one, makes each again and finds it done. "Already so" is no error.
 */
import type { KubeClient, KubeObject } from './client.js';
import { ConflictError, NotFoundError } from './errors.js';

/** Creates the object in `collection`; undefined when one of its name exists already. */
export async function createIfAbsent<T extends KubeObject>(
  client: KubeClient,
  collection: string,
  object: T,
): Promise<T | undefined> {
  try {
    return await client.call<T>('POST', collection, object);
  } catch (error) {
    if (error instanceof ConflictError) return undefined;
    throw error;
  }
}

/**
 * Deletes the object at `path` with background propagation (its dependents go after it);
 * false when it was gone already.
 */
export async function deleteIfPresent(client: KubeClient, path: string): Promise<boolean> {
  try {
    await client.call('DELETE', `${path}?propagationPolicy=Background`);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/**
 * Merge-patches the status subresource of the object at `path` (a field set to null is
 * removed); false when the object is gone (the next pass sees that).
 */
export async function patchStatus(
  client: KubeClient,
  path: string,
  status: unknown,
): Promise<boolean> {
  try {
    await client.call('PATCH', `${path}/status`, { status });
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/** Whether the object at `path` exists (a GET, past any cache). */
export async function exists(client: KubeClient, path: string): Promise<boolean> {
  try {
    await client.call('GET', path);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}
