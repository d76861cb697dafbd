// The guard's short-lived cache of permits, least recently used first out, dropped by revocations.
import type { MandateClaims } from './mandate-claims.ts';

/** Which cached decisions a revocation makes stale. No filter clears the whole cache. */
export interface InvalidateFilter {
  readonly jti?: string;
  readonly grant_id?: string;
}

/** Longest time a permit may be reused. */
export const MAX_CACHE_TTL_MS = 5000;

/** Permits by request key; `generation` tells a caller whether an invalidation came meanwhile. */
export interface PermitCache {
  /** The claims of a live permit for `key` (and marks it recently used), or undefined. */
  recall(key: string): MandateClaims | undefined;
  /**
   * Keeps a permit for the TTL counted from `askedAtMs` (when the question was sent, so a permit
   * is never reused later than TTL after the broker's decision), never past the token's `exp`;
   * evicts the oldest when full.
   */
  remember(key: string, claims: MandateClaims, askedAtMs: number): void;
  /** Drops the permits matching the filter (all without one); returns how many. */
  invalidate(filter?: InvalidateFilter): number;
  /** Drops everything. */
  clear(): void;
  /** Bumped by every `invalidate`. */
  readonly generation: number;
}

/** Creates an empty cache; a `ttlMs` or `max` of 0 keeps nothing. */
export function createPermitCache(options: {
  readonly ttlMs: number;
  readonly max: number;
  readonly now: () => number;
}): PermitCache {
  const { ttlMs, max, now } = options;
  // Insertion order doubles as recency: a hit is re-inserted, the first key is the oldest.
  const cache = new Map<string, { readonly claims: MandateClaims; readonly expiresAtMs: number }>();
  // Bumped by every invalidate: a check whose broker call was in flight when an invalidation
  // arrived must not cache the answer it got before the revocation.
  let generation = 0;

  return {
    get generation() {
      return generation;
    },
    recall(key) {
      const entry = cache.get(key);
      if (!entry) return undefined;
      cache.delete(key);
      if (now() >= entry.expiresAtMs) return undefined;
      cache.set(key, entry);
      return entry.claims;
    },
    remember(key, claims, askedAtMs) {
      if (max === 0 || ttlMs === 0) return;
      const expMs = typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY;
      const expiresAtMs = Math.min(askedAtMs + ttlMs, expMs);
      if (now() >= expiresAtMs) return;
      cache.delete(key);
      while (cache.size >= max) {
        const oldest = cache.keys().next();
        if (oldest.done) break;
        cache.delete(oldest.value);
      }
      cache.set(key, { claims, expiresAtMs });
    },
    invalidate(filter) {
      generation += 1;
      if (!filter || (filter.jti === undefined && filter.grant_id === undefined)) {
        const n = cache.size;
        cache.clear();
        return n;
      }
      let n = 0;
      for (const [key, entry] of cache) {
        if (
          (filter.jti !== undefined && entry.claims.jti === filter.jti) ||
          (filter.grant_id !== undefined && entry.claims.grant_id === filter.grant_id)
        ) {
          cache.delete(key);
          n += 1;
        }
      }
      return n;
    },
    clear() {
      cache.clear();
    },
  };
}
