import { availableParallelism } from 'node:os';

/**
 * Maps items through an async function with at most `limit` calls in flight, keeping the
 * order of results. Decoding every file of a folder at once would hold all of them in memory;
 * the default keeps sharp's worker threads (libuv, 4 by default) and every core busy.
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  work: (item: T, index: number) => Promise<R>,
  limit = Math.max(4, availableParallelism()),
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
