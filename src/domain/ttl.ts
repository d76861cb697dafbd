// Lifetimes: how long a grant and an access token may live, after every cap is applied.
import { MAX_GRANT_TTL_SEC } from './intent.ts';

/** Longest access token lifetime, whatever config or client says (seconds). */
export const MAX_ACCESS_TTL_SEC = 900;

export interface TtlLimits {
  readonly defaultGrantTtlSec: number;
  readonly maxGrantTtlSec: number;
  readonly accessTtlSec: number;
  readonly clientMaxGrantTtlSec?: number | undefined;
  readonly clientMaxTokenTtlSec?: number | undefined;
}

/** The grant's lifetime: the requested ttl (or the default) under every cap, at least 1 s. */
export function clampGrantTtl(requestedSec: number | undefined, limits: TtlLimits): number {
  const caps = [MAX_GRANT_TTL_SEC, limits.maxGrantTtlSec, limits.clientMaxGrantTtlSec ?? Infinity];
  return Math.max(1, Math.floor(Math.min(requestedSec ?? limits.defaultGrantTtlSec, ...caps)));
}

/** The access token's lifetime: the configured ttl under every cap and the grant's remaining life. */
export function clampAccessTtl(grantRemainingSec: number, limits: TtlLimits): number {
  const caps = [MAX_ACCESS_TTL_SEC, limits.clientMaxTokenTtlSec ?? Infinity, grantRemainingSec];
  return Math.max(0, Math.floor(Math.min(limits.accessTtlSec, ...caps)));
}
