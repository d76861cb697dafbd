// The guard's memo of verified tokens: good until exp (not before nbf), bounded, least recently used out first.
import { describe, expect, it } from 'vitest';
import { createVerifiedTokens } from '../../../src/client/verified-tokens.ts';

describe('createVerifiedTokens', () => {
  it('recalls a token until its exp, never after, and never one not yet valid', () => {
    let nowMs = 1_000_000;
    const memo = createVerifiedTokens(10, () => nowMs);
    memo.remember('a', { exp: 1010, jti: 'a' });
    memo.remember('b', { exp: 1010, nbf: 1005 });
    expect(memo.recall('a')).toMatchObject({ jti: 'a' });
    expect(memo.recall('b')).toBeUndefined();
    nowMs = 1_009_999;
    expect(memo.recall('a')).toBeDefined();
    nowMs = 1_010_000;
    expect(memo.recall('a')).toBeUndefined();
    memo.remember('c', { jti: 'no exp' });
    expect(memo.recall('c')).toBeUndefined();
  });

  it('holds at most max tokens, dropping the least recently used; 0 holds none', () => {
    const memo = createVerifiedTokens(2, () => 0);
    memo.remember('a', { exp: 10 });
    memo.remember('b', { exp: 10 });
    memo.recall('a');
    memo.remember('c', { exp: 10 });
    expect(memo.recall('b')).toBeUndefined();
    expect(memo.recall('a')).toBeDefined();
    expect(memo.recall('c')).toBeDefined();
    const none = createVerifiedTokens(0, () => 0);
    none.remember('a', { exp: 10 });
    expect(none.recall('a')).toBeUndefined();
  });
});
