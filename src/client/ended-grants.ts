// Grants a guard learned are over (revoked, expired, gone): their tokens are refused without asking Mandate.
import { LruMap } from '../domain/lru-map.ts';

/** No Mandate access token lives longer than this, so an ended grant need not be remembered past it. */
const MAX_TOKEN_LIFETIME_MS = 900_000;
const MAX_ENTRIES = 10_000;

/** A bounded memory of ended grant ids, each kept for the longest lifetime a token of it could have. */
export interface EndedGrants {
  add(grantId: string): void;
  has(grantId: string): boolean;
}

/** Creates an empty memory; the least recently used entry leaves first when it is full. */
export function createEndedGrants(now: () => number): EndedGrants {
  const until = new LruMap<string, number>(MAX_ENTRIES);
  return {
    add(grantId) {
      until.set(grantId, now() + MAX_TOKEN_LIFETIME_MS);
    },
    has(grantId) {
      const end = until.get(grantId);
      if (end === undefined) return false;
      if (now() < end) return true;
      until.delete(grantId);
      return false;
    },
  };
}
