/**
 * A list-then-watch cache of one kind of object, as client-go's informers keep: the first
 * list fills it, the watch keeps it current from that list's resourceVersion, and a watch
 * that is too old (410) lists again and reports the difference; a broken or stalled watch
 * watches again from where it was. Handlers see every change once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeList, KubeObject, WatchEvent } from './client.js';
import { GoneError } from './errors.js';

export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  /** The collection, e.g. `/apis/batch/v1/namespaces/ns/jobs` or `/apis/batch/v1/jobs`. */
  path: string;
  labelSelector?: string;
  /** Called for every change after the cache holds it. */
  onEvent?: (type: InformerEventType, object: T) => void;
  /** Called when listing or watching failed; the informer retries after `retryMs`. */
  onError?: (error: Error) => void;
  /** @default 1000 */
  retryMs?: number;
  /** Items per list page. @default 500 */
  pageSize?: number;
  /**
   * What the cache keeps of each object: drop what the reader never looks at (a large
   * spec), so the cache of 10,000 objects stays small. @default managedFields removed
   */
  transform?: (object: T) => T;
  /**
   * The `timeoutSeconds` of each watch: the API server ends it after this long, and the
   * informer watches again from where it was. @default 300
   */
  watchTimeoutSeconds?: number;
  /**
   * A watch silent (no event, no bookmark) for `watchTimeoutSeconds` plus this long is
   * stalled (the server should have ended it): it is cut, reported to `onError` as a
   * KubeTimeoutError, and watched again. @default 30000
   */
  stalledWatchMarginMs?: number;
}

/** Server-side apply's bookkeeping: as large as the object itself, and no reader needs it. */
export function withoutManagedFields<T extends KubeObject>(object: T): T {
  const { managedFields: _managedFields, ...metadata } = object.metadata as T['metadata'] & {
    managedFields?: unknown;
  };
  return { ...object, metadata };
}

export const objectKey = (object: KubeObject): string =>
  `${object.metadata.namespace ?? ''}/${object.metadata.name}`;

export class Informer<T extends KubeObject> {
  readonly #cache = new Map<string, T>();
  readonly #stopping = new AbortController();
  #resourceVersion = '';
  #loop?: Promise<void>;

  constructor(private readonly options: InformerOptions<T>) {}

  /** Lists (retrying until it works or stop is called), then follows the watch. */
  async start(): Promise<void> {
    for (;;) {
      try {
        await this.#relist();
        break;
      } catch (error) {
        this.options.onError?.(error as Error);
        if (await this.#pause()) return;
      }
    }
    this.#loop = this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
  }

  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  get size(): number {
    return this.#cache.size;
  }

  async #follow(): Promise<void> {
    const signal = this.#stopping.signal;
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    const idleTimeoutMs = timeoutSeconds * 1000 + (this.options.stalledWatchMarginMs ?? 30_000);
    while (!signal.aborted) {
      try {
        const query = this.#query({
          watch: '1',
          resourceVersion: this.#resourceVersion,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(timeoutSeconds),
        });
        for await (const event of this.options.client.watch<T>(
          `${this.options.path}?${query}`,
          signal,
          { idleTimeoutMs },
        )) {
          this.#apply(event);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.options.onError?.(error as Error);
        if (await this.#pause()) return;
        if (error instanceof GoneError) await this.#relist().catch(() => undefined);
      }
    }
  }

  #apply(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') {
      if (event.object.code === 410) {
        // Too old: the catch lists again.
        throw new GoneError(410, 'WATCH', this.options.path, event.object.message ?? 'Gone');
      }
      throw new Error(`watch ${this.options.path}: ${event.object.message ?? 'error'}`);
    }
    const resourceVersion = event.object.metadata.resourceVersion;
    if (resourceVersion) this.#resourceVersion = resourceVersion;
    if (event.type === 'BOOKMARK') return;
    const object = this.#transform(event.object);
    const key = objectKey(object);
    if (event.type === 'DELETED') this.#cache.delete(key);
    else this.#cache.set(key, object);
    this.options.onEvent?.(event.type, object);
  }

  async #relist(): Promise<void> {
    const seen = new Map<string, T>();
    let next = '';
    let resourceVersion = '';
    do {
      const page = await this.options.client.call<KubeList<T>>(
        'GET',
        `${this.options.path}?${this.#query({ limit: String(this.options.pageSize ?? 500), ...(next && { continue: next }) })}`,
      );
      for (const item of page.items) seen.set(objectKey(item), this.#transform(item));
      next = page.metadata.continue ?? '';
      resourceVersion = page.metadata.resourceVersion;
    } while (next);
    for (const [key, old] of this.#cache) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.options.onEvent?.('DELETED', old);
    }
    for (const [key, item] of seen) {
      const old = this.#cache.get(key);
      this.#cache.set(key, item);
      if (old?.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.options.onEvent?.(old ? 'MODIFIED' : 'ADDED', item);
    }
    this.#resourceVersion = resourceVersion;
  }

  #transform(object: T): T {
    return (this.options.transform ?? withoutManagedFields)(object);
  }

  #query(parameters: Record<string, string>): string {
    const query = new URLSearchParams(parameters);
    if (this.options.labelSelector) query.set('labelSelector', this.options.labelSelector);
    return query.toString();
  }

  /** Waits `retryMs`; true when stop was called meanwhile. */
  async #pause(): Promise<boolean> {
    const signal = this.#stopping.signal;
    await sleep(this.options.retryMs ?? 1_000, undefined, { signal }).catch(() => undefined);
    return signal.aborted;
  }
}
