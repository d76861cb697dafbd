// A bounded map that drops its least recently used entry: the broker's memories (verified tokens, grant snapshots).

interface Slot<V> {
  value: V;
  /** The move (set or reorder) that last put this entry at the newest end. */
  moved: number;
}

/**
 * A Map kept in use order: `set` adds at the newest end, `get` moves a hit there, and past
 * `maxEntries` the oldest-used entry leaves. A JS Map iterates in insertion order, so "move to
 * the end" is a delete and a set. A hit on an entry that moved among the last eighth of
 * `maxEntries` moves stays where it is: on a hot entry that saves two hash lookups and the
 * table churn (deleted slots, rehashes, garbage) of a delete and a set per read, and it cannot
 * cost the entry its place, which is still at least seven eighths of the bound from the oldest
 * end. Below 8 entries every hit moves (exact LRU). With `maxEntries` 0 it remembers nothing.
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, Slot<V>>();
  readonly #max: number;
  /** Hits on entries moved fewer than this many moves ago stay in place. */
  readonly #fresh: number;
  #moves = 0;

  constructor(maxEntries: number) {
    if (!(maxEntries >= 0) || !Number.isInteger(maxEntries))
      throw new RangeError(`maxEntries must be a non-negative integer, got ${maxEntries}`);
    this.#max = maxEntries;
    this.#fresh = Math.floor(maxEntries / 8);
  }

  get size(): number {
    return this.#entries.size;
  }

  get maxEntries(): number {
    return this.#max;
  }

  /** The entry, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    if (this.#moves - slot.moved >= this.#fresh) {
      this.#entries.delete(key);
      slot.moved = ++this.#moves;
      this.#entries.set(key, slot);
    }
    return slot.value;
  }

  /** The entry without changing its place (for checks that must not keep an entry alive). */
  peek(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Adds or replaces the entry as the most recently used, dropping the least recently used past the bound. */
  set(key: K, value: V): void {
    if (this.#max === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, moved: ++this.#moves });
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
