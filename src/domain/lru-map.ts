// A bounded map that drops its least recently used entry: the broker's memories (verified tokens, grant snapshots).

/**
 * A Map kept in use order: `get` moves a hit to the newest end, `set` adds there, and past
 * `maxEntries` the oldest-used entry leaves. A JS Map iterates in insertion order, so "move to
 * the end" is a delete and a set; both are O(1). With `maxEntries` 0 it remembers nothing.
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #max: number;

  constructor(maxEntries: number) {
    if (!(maxEntries >= 0) || !Number.isInteger(maxEntries))
      throw new RangeError(`maxEntries must be a non-negative integer, got ${maxEntries}`);
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get maxEntries(): number {
    return this.#max;
  }

  /** The entry, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** The entry without changing its place (for checks that must not keep an entry alive). */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Adds or replaces the entry as the most recently used, dropping the least recently used past the bound. */
  set(key: K, value: V): void {
    if (this.#max === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
