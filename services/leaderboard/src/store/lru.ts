/** Keeps a Map used as an LRU (re-inserted on use) at `capacity` entries. */
export function evictOldest<K, V>(map: Map<K, V>, capacity: number): void {
  while (map.size > capacity) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}
