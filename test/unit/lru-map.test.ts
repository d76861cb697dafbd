// LruMap: bounded, least recently used leaves first, a read counts as a use, 0 remembers nothing.
import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/domain/lru-map.ts';

describe('LruMap', () => {
  it('drops the least recently used entry past its bound', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('b')).toBe(2);
    expect(lru.get('c')).toBe(3);
  });

  it('keeps an entry that is read, where a FIFO would drop it', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('hot', 1);
    lru.set('b', 2);
    expect(lru.get('hot')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('hot')).toBe(1);
    expect(lru.get('b')).toBeUndefined();
  });

  it('peek reads without keeping the entry alive', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.peek('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.peek('a')).toBeUndefined();
  });

  it('replacing an entry makes it the newest and does not grow the map', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('a', 10);
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    expect(lru.get('a')).toBe(10);
    expect(lru.get('b')).toBeUndefined();
  });

  it('remembers nothing with a bound of 0 and refuses a bad bound', () => {
    const lru = new LruMap<string, number>(0);
    lru.set('a', 1);
    expect(lru.get('a')).toBeUndefined();
    expect(() => new LruMap(-1)).toThrow(RangeError);
    expect(() => new LruMap(1.5)).toThrow(RangeError);
  });

  it('on a large map keeps every entry among the last seven eighths of the bound used', () => {
    const max = 64;
    const lru = new LruMap<number, number>(max);
    const recency: number[] = []; // exact use order, newest last
    const use = (key: number) => {
      const at = recency.indexOf(key);
      if (at >= 0) recency.splice(at, 1);
      recency.push(key);
    };
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed;
    };
    for (let step = 0; step < 4_000; step++) {
      // Mostly reads of recent keys (a hot head), some new keys.
      const key = next() % 5 === 0 ? 1_000 + step : recency[recency.length - 1 - (next() % 40)];
      if (key !== undefined && lru.get(key) !== undefined) use(key);
      else if (key !== undefined) {
        lru.set(key, key);
        use(key);
      }
      expect(lru.size).toBeLessThanOrEqual(max);
      for (const kept of recency.slice(-(max - max / 8))) expect(lru.peek(kept)).toBe(kept);
    }
  });

  it('delete removes an entry', () => {
    const lru = new LruMap<string, number>(3);
    lru.set('a', 1);
    expect(lru.delete('a')).toBe(true);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });
});
