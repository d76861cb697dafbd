// The key ring's memory of proven access tokens (by exact text, least recently used leaves first) and the frozen claims it hands out.
import type { AccessTokenClaims } from '../domain/access-token.ts';
import { LruMap } from '../domain/lru-map.ts';

export interface VerifiedToken {
  readonly kid: string;
  readonly claims: AccessTokenClaims;
  readonly nbf: number | undefined;
}

/**
 * Tokens whose signature (or issued digest) and claims checked out, keyed by their exact text (a
 * hit is the same bytes, so the same proof): resources check one token on every call of a task.
 * Least recently used leaves first; entries whose key has left the ring are ignored (see verify).
 */
export function createVerifiedTokens(maxEntries: number) {
  const entries = new LruMap<string, VerifiedToken>(maxEntries);
  return {
    get: (token: string) => entries.get(token),
    set(token: string, entry: VerifiedToken) {
      if (maxEntries <= 0) return;
      // A copy: the token read from a request body is often a slice of that body, and as a key it
      // would keep the whole body alive for as long as the entry lives.
      entries.set(Buffer.from(token, 'latin1').toString('latin1'), entry);
    },
  };
}

/** Claims handed to every later caller of the same token: nobody may change them. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
