// The options of a resource guard: who it is towards Mandate, what it protects, how long permits last.
import type { FetchLike } from './discover-issuer.ts';
import type { GuardedRequest } from './dpop-proof.ts';
import type { InvalidateFilter } from './permit-cache.ts';
import type { ClientKeyOptions } from './private-key-jwt.ts';

export interface CheckOptions {
  /** The action this request performs; defaults to the guard's `action`. */
  readonly action?: string;
  /**
   * AuthZEN context for the decision (e.g. `{ ip, step }`); part of the cache key. `ip` must come
   * from the socket or a proxy you trust (the rightmost untrusted hop), never from a header the
   * caller sets.
   */
  readonly context?: Record<string, unknown>;
  /**
   * The request being guarded (method, full URL, its `DPoP` header): needed for DPoP-bound tokens
   * (RFC 9449), which are refused without a valid proof for it.
   */
  readonly request?: GuardedRequest;
}

/**
 * A guard's options. The resource client authenticates with `clientSecret` or `privateKey`; with a
 * key, AuthZEN calls carry the caller token it gets with `client_credentials` (`resource` = the issuer).
 */
export interface MandateGuardOptions extends ClientKeyOptions {
  readonly issuer: string | URL;
  /** This resource's identifier: the audience tokens must carry. */
  readonly resource: string;
  /** Default action of `check` when the call does not name one. */
  readonly action?: string;
  /**
   * How long a permit is reused, counted from when the guard sent the question to Mandate
   * (default 500 ms, at most 5000 ms). It bounds how long a revocation may go unseen when no
   * revocation events reach the guard: with the default, a request sent half a second after a
   * revocation is refused. 0 asks Mandate on every request.
   */
  readonly cacheTtlMs?: number;
  /** How many permits are kept (default 10000). */
  readonly cacheMax?: number;
  /** Per call to Mandate (default 3000 ms); a slower answer fails closed. */
  readonly timeoutMs?: number;
  /** `realm` of the challenges (default: the resource). */
  readonly realm?: string;
  readonly fetch?: FetchLike;
  /**
   * Hook for revocation push events (CAEP/SSF, a Redis channel, a webhook): called once with
   * the guard's `invalidate`; what it returns is called on `close()`. Revocations then drop
   * cached permits at once instead of after `cacheTtlMs`.
   */
  readonly revocationEvents?: (
    invalidate: (filter: InvalidateFilter) => void,
  ) => (() => void) | undefined;
  /**
   * The `aud` that pushed Security Event Tokens must carry: the `audience` this resource was
   * registered with at `POST /admin/receivers` (default: `resource`).
   */
  readonly eventAudience?: string;
  /** How far a DPoP proof's `iat` may lie from now, either side (default 65 s). */
  readonly dpopWindowSec?: number;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}
