// Resource-side guard: verifies a Mandate token offline, then asks Mandate about this call.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from 'jose';
import { canonicalJson } from '../domain/canonical-json.ts';
import {
  bearerChallenge,
  type GuardError,
  type GuardRefusal,
  presentedToken,
} from './bearer-challenge.ts';
import { type DiscoveredIssuer, discoverIssuer, type FetchLike } from './discover-issuer.ts';
import { createBindingCheck, type GuardedRequest } from './dpop-proof.ts';
import { createEndedGrants } from './ended-grants.ts';
import type { MandateClaims } from './mandate-claims.ts';
import { createMandateDecider, type Verdict } from './mandate-decider.ts';
import type { CheckOptions, MandateGuardOptions } from './mandate-guard-options.ts';
import { isTokenFault, MANDATE_ALGORITHMS } from './mandate-jwt.ts';
import { createPermitCache, type InvalidateFilter, MAX_CACHE_TTL_MS } from './permit-cache.ts';
import { createResourceCredentials } from './resource-credentials.ts';
import { createTokenIntrospection } from './token-introspection.ts';
import { createVerifiedTokens } from './verified-tokens.ts';
import { verifyMandateJwt } from './verify-mandate-jwt.ts';
import {
  MAX_SET_BYTES,
  type SecurityEventResult,
  securityEventRefusal,
  verifySecurityEvent,
} from './verify-security-event.ts';

export type { CheckOptions, MandateGuardOptions } from './mandate-guard-options.ts';

export type GuardResult = { readonly ok: true; readonly claims: MandateClaims } | GuardRefusal;

/** A verified token (signature, issuer, audience, expiry, DPoP binding) with its claims, or a refusal. */
export type VerifyResult =
  | {
      readonly ok: true;
      readonly claims: MandateClaims;
      readonly token: string;
      readonly scheme: 'Bearer' | 'DPoP';
    }
  | GuardRefusal;

export interface MandateGuard {
  /**
   * Decides one request from its `Authorization` header (`Bearer`, or `DPoP` with `options.request`
   * carrying the proof). Never throws for a bad token.
   */
  check(authorization: string | null | undefined, options?: CheckOptions): Promise<GuardResult>;
  /**
   * Verifies the token offline (no question to Mandate): signature, issuer, audience, expiry,
   * DPoP binding, and not of a grant this guard learned is revoked. Never throws for a bad token.
   */
  verify(authorization: string | null | undefined, request?: GuardedRequest): Promise<VerifyResult>;
  /**
   * `verify`, then asks Mandate whether the token is live at this moment (RFC 7662 introspection
   * with the resource client's credentials; no action, no permit cache): for requests that reach
   * data without naming an action. A token no longer active is refused 401 `invalid_token`; when
   * Mandate cannot answer, 503 `temporarily_unavailable` (fail closed). Never throws for a bad token.
   */
  confirm(
    authorization: string | null | undefined,
    request?: GuardedRequest,
  ): Promise<VerifyResult>;
  /** Drops cached permits matching the filter (all of them without one); returns how many. */
  invalidate(filter?: InvalidateFilter): number;
  /**
   * Takes a pushed CAEP `session-revoked` or `token-claims-change` Security Event Token: verifies
   * it against the issuer's keys (`typ: secevent+jwt`, `iss`, `aud` = `eventAudience`) and drops
   * the cached permits of the grant it names before resolving, so the next check asks Mandate.
   * A SET that does not verify changes nothing. Never throws.
   */
  receiveSecurityEvent(setJwt: string): Promise<SecurityEventResult>;
  /** Stops the event hook and empties the cache; later checks fail closed. */
  close(): void;
}

/** Verified tokens remembered (by exact text, until their `exp`) so each is verified once. */
const VERIFIED_TOKENS_MAX = 4096;

/** Default permit reuse: short enough that a revocation is in force within it without any event. */
export const DEFAULT_CACHE_TTL_MS = 500;

interface Discovered extends DiscoveredIssuer {
  readonly jwks: JWTVerifyGetKey;
}

/**
 * Creates a guard for one resource. Options are checked here, so a misconfigured guard fails
 * at start-up rather than on the first request.
 */
export function createMandateGuard(options: MandateGuardOptions): MandateGuard {
  const { clientId, clientSecret, privateKey, resource } = options;
  if (!clientId || (!clientSecret && privateKey === undefined))
    throw new TypeError('createMandateGuard: clientId and clientSecret or privateKey are required');
  if (clientSecret && privateKey !== undefined)
    throw new TypeError('createMandateGuard: give clientSecret or privateKey, not both');
  if (!resource) throw new TypeError('createMandateGuard: resource is required');
  const issuer = new URL(options.issuer);
  const ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  if (!(ttlMs >= 0 && ttlMs <= MAX_CACHE_TTL_MS)) {
    throw new RangeError(
      `createMandateGuard: cacheTtlMs must be between 0 and ${MAX_CACHE_TTL_MS}`,
    );
  }
  const cacheMax = options.cacheMax ?? 10_000;
  if (!(Number.isInteger(cacheMax) && cacheMax >= 0))
    throw new RangeError('createMandateGuard: cacheMax must be an integer >= 0');
  const timeoutMs = options.timeoutMs ?? 3000;
  const eventAudience = options.eventAudience ?? resource;
  if (!eventAudience) throw new TypeError('createMandateGuard: eventAudience must not be empty');
  const realm = options.realm ?? resource;
  const now = options.now ?? Date.now;
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const credentials = createResourceCredentials(
    clientId,
    privateKey === undefined
      ? { clientSecret: clientSecret as string }
      : { privateKey, keyId: options.keyId, algorithm: options.algorithm },
    { timeoutMs, now },
  );
  const introspect = createTokenIntrospection({ clientId, credentials, timeoutMs });
  const decide = createMandateDecider({
    issuer,
    credentials,
    resource,
    timeoutMs,
    fetch: fetchImpl,
    introspect,
  });
  const cache = createPermitCache({ ttlMs, max: cacheMax, now });
  const dpopWindowSec = options.dpopWindowSec ?? 65;
  if (!(dpopWindowSec > 0 && dpopWindowSec <= 600))
    throw new RangeError('createMandateGuard: dpopWindowSec must be between 1 and 600');
  const bindingFault = createBindingCheck({ windowSec: dpopWindowSec, maxSeen: 100_000 });
  const invalidate = (filter?: InvalidateFilter): number => cache.invalidate(filter);
  const endedGrants = createEndedGrants(now);
  const verifiedTokens = createVerifiedTokens(VERIFIED_TOKENS_MAX, now);

  let closed = false;
  let discovery: Promise<Discovered> | undefined;
  const unsubscribe = options.revocationEvents?.((filter) => {
    invalidate(filter);
  });

  const discover = (): Promise<Discovered> => {
    discovery ??= discoverIssuer(issuer, fetchImpl).then(
      (d) => {
        const jwksUri = d.as.jwks_uri;
        if (!jwksUri) throw new Error('issuer metadata has no jwks_uri');
        const jwks = createRemoteJWKSet(new URL(jwksUri), {
          timeoutDuration: timeoutMs,
          [customFetch]: (url, init) => fetchImpl(url, init as RequestInit),
        });
        return { ...d, jwks };
      },
      (err: unknown) => {
        discovery = undefined;
        throw err;
      },
    );
    return discovery;
  };

  const refuse = (
    status: 401 | 403 | 503,
    error: GuardError,
    description: string,
    scheme: 'Bearer' | 'DPoP' = 'Bearer',
  ) => bearerChallenge(realm, status, error, description, scheme);

  async function verify(
    authorization: string | null | undefined,
    request?: GuardedRequest,
  ): Promise<VerifyResult> {
    if (closed) return refuse(503, 'temporarily_unavailable', 'the guard is closed');
    const presented = presentedToken(authorization);
    if (presented === undefined)
      return refuse(401, 'invalid_request', 'a Bearer or DPoP token is required');
    const { scheme, token } = presented;
    if (token === '')
      return refuse(
        401,
        'invalid_token',
        `the Authorization header is not a valid ${scheme} credential`,
        scheme,
      );
    let d: Discovered;
    try {
      d = await discover();
    } catch {
      return refuse(503, 'temporarily_unavailable', 'Mandate could not be reached');
    }
    let claims = verifiedTokens.recall(token);
    try {
      if (!claims) {
        claims = await verifyMandateJwt<MandateClaims>(token, d.jwks, {
          issuer: d.as.issuer,
          audience: resource,
          typ: 'at+jwt',
          algorithms: MANDATE_ALGORITHMS,
          currentDate: new Date(now()),
        });
        verifiedTokens.remember(token, claims);
      }
    } catch (err) {
      if (isTokenFault(err)) {
        return refuse(
          401,
          'invalid_token',
          err instanceof errors.JWTExpired
            ? 'the token has expired'
            : 'the token is not valid here',
        );
      }
      return refuse(503, 'temporarily_unavailable', 'the signing keys could not be fetched');
    }
    const fault = await bindingFault(scheme, token, claims.cnf?.jkt, request, now() / 1000);
    if (fault) return refuse(401, fault.error, fault.description, 'DPoP');
    if (claims.grant_id && endedGrants.has(claims.grant_id))
      return refuse(401, 'invalid_token', 'the token is no longer active', scheme);
    return { ok: true, claims, token, scheme };
  }

  async function confirm(
    authorization: string | null | undefined,
    request?: GuardedRequest,
  ): Promise<VerifyResult> {
    const verified = await verify(authorization, request);
    if (!verified.ok) return verified;
    let live: boolean;
    try {
      live = (await introspect(await discover(), verified.token)) !== undefined;
    } catch {
      return refuse(503, 'temporarily_unavailable', 'Mandate could not confirm the token');
    }
    if (closed) return refuse(503, 'temporarily_unavailable', 'the guard is closed');
    if (live) return verified;
    // Introspection does not say why (a store outage is inactive too), so the grant is not
    // remembered as ended; its cached permits are stale either way.
    if (verified.claims.grant_id) invalidate({ grant_id: verified.claims.grant_id });
    return refuse(401, 'invalid_token', 'the token is no longer active', verified.scheme);
  }

  async function check(
    authorization: string | null | undefined,
    opts: CheckOptions = {},
  ): Promise<GuardResult> {
    const action = opts.action ?? options.action;
    if (!action)
      throw new TypeError(
        'MandateGuard.check: no action given and the guard has no default action',
      );
    if (closed) return refuse(503, 'temporarily_unavailable', 'the guard is closed');
    const presented = presentedToken(authorization);
    /** The token's binding holds for this request (checked on every call, cached permit or not). */
    const bindingRefusal = async (claims: MandateClaims) => {
      if (!presented) return undefined;
      const fault = await bindingFault(
        presented.scheme,
        presented.token,
        claims.cnf?.jkt,
        opts.request,
        now() / 1000,
      );
      return fault && refuse(401, fault.error, fault.description, 'DPoP');
    };
    // Without a cache (cacheTtlMs or cacheMax 0) there is no key to hash.
    const caching = ttlMs > 0 && cacheMax > 0;
    if (caching && presented?.token) {
      const key = permitKey(presented.token, action, opts.context);
      const cached = cache.recall(key);
      if (cached) return (await bindingRefusal(cached)) ?? { ok: true, claims: cached };
    }
    const askedAt = cache.generation;
    const askedAtMs = now();
    const verified = await verify(authorization, opts.request);
    if (!verified.ok) return verified;
    const { claims, token } = verified;
    const d = await discover();
    const challenge = claims.cnf?.jkt === undefined ? 'Bearer' : 'DPoP';
    // Mandate checks a bound token's proof again (and spends its jti for every broker process).
    const forwarded =
      challenge === 'DPoP' && opts.request?.dpop
        ? { proof: opts.request.dpop, method: opts.request.method, url: opts.request.url }
        : undefined;

    let verdict: Verdict;
    try {
      verdict = await decide(d, token, claims, action, opts.context, forwarded);
    } catch {
      return refuse(503, 'temporarily_unavailable', 'Mandate could not decide the request');
    }
    if (closed) return refuse(503, 'temporarily_unavailable', 'the guard is closed');
    if (!verdict.decision) {
      if (!verdict.inactive)
        return refuse(
          403,
          'insufficient_scope',
          `the grant does not permit ${action} on this resource now`,
          challenge,
        );
      // RFC 6750 3.1: a revoked, drifted or expired grant is an invalid token, not a scope matter;
      // its other permits here are stale too, and so is any later token of it.
      if (claims.grant_id) {
        invalidate({ grant_id: claims.grant_id });
        if (verdict.grantEnded) endedGrants.add(claims.grant_id);
      }
      return refuse(401, 'invalid_token', 'the token is no longer active', challenge);
    }
    if (caching && askedAt === cache.generation)
      cache.remember(permitKey(token, action, opts.context), claims, askedAtMs);
    return { ok: true, claims };
  }

  async function receiveSecurityEvent(setJwt: string): Promise<SecurityEventResult> {
    if (closed) return securityEventRefusal('temporarily_unavailable', 'the guard is closed');
    const compact = typeof setJwt === 'string' ? setJwt.trim() : '';
    if (!compact || compact.length > MAX_SET_BYTES)
      return securityEventRefusal('invalid_request', 'the body is not a Security Event Token');

    let d: Discovered;
    try {
      d = await discover();
    } catch {
      return securityEventRefusal('temporarily_unavailable', 'Mandate could not be reached');
    }
    const verified = await verifySecurityEvent(compact, d.jwks, {
      issuer: d.as.issuer,
      audience: eventAudience,
      now,
    });
    if (!verified.ok) return verified;
    const [grantId, ...more] = verified.grantIds;
    let invalidated = invalidate({ grant_id: grantId });
    for (const id of more) invalidated += invalidate({ grant_id: id });
    return { ok: true, grantId, invalidated };
  }

  function close(): void {
    closed = true;
    cache.clear();
    unsubscribe?.();
  }

  return { check, verify, confirm, invalidate, receiveSecurityEvent, close };
}

function permitKey(token: string, action: string, context: unknown): string {
  return `${createHash('sha256').update(token).digest('base64url')}\u0000${action}\u0000${canonicalJson(context ?? null)}`;
}
