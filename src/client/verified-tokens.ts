// Tokens the guard already verified (signature, issuer, audience, type), so a token used for many calls is verified once.
import { LruMap } from '../domain/lru-map.ts';
import type { MandateClaims } from './mandate-claims.ts';

/** A bounded memo of verified tokens by their exact text; an entry is good until the token's `exp`. */
export interface VerifiedTokens {
  /** The claims of a verified token still within its `nbf`..`exp`, else undefined. */
  recall(token: string): MandateClaims | undefined;
  remember(token: string, claims: MandateClaims): void;
}

/**
 * Creates an empty memo holding at most `max` tokens (0: none), the least recently used out first.
 * What a signature check proves of a token's text does not change until it expires; whether its
 * grant is still live is asked of Mandate on every decision regardless.
 */
export function createVerifiedTokens(max: number, now: () => number): VerifiedTokens {
  const memo = new LruMap<string, MandateClaims>(max);
  const withinTime = (claims: MandateClaims) => {
    const sec = now() / 1000;
    return (
      typeof claims.exp === 'number' &&
      sec < claims.exp &&
      (typeof claims.nbf !== 'number' || claims.nbf <= sec)
    );
  };
  return {
    recall(token) {
      const claims = memo.get(token);
      if (!claims) return undefined;
      if (withinTime(claims)) return claims;
      memo.delete(token);
      return undefined;
    },
    remember(token, claims) {
      if (withinTime(claims)) memo.set(token, claims);
    },
  };
}
