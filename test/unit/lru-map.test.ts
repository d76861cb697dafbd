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

  it('delete removes an entry', () => {
    const lru = new LruMap<string, number>(3);
    lru.set('a', 1);
    expect(lru.delete('a')).toBe(true);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });
});
