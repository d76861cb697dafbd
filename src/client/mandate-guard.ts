// Resource-side guard: verifies a Mandate token offline, then asks Mandate about this call.
import { createHash } from 'node:crypto';
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import * as oauth from 'oauth4webapi';
import { canonicalJson } from '../domain/decision-record.ts';
import { allowsPair } from '../domain/intent.ts';
import { basicCredentials } from './basic-credentials.ts';
import { type DiscoveredIssuer, discoverIssuer, type FetchLike } from './discover-issuer.ts';
import type { GrantedTask } from './mandate-client.ts';

/** The verified access token claims (RFC 9068 with Mandate's `grant_id`). */
export interface MandateClaims extends JWTPayload {
  readonly client_id?: string;
  readonly grant_id?: string;
  readonly authorization_details?: readonly GrantedTask[];
  readonly cnf?: { readonly jkt?: string };
  readonly act?: Record<string, unknown>;
}

/** Error codes of a refused check (RFC 6750 section 3.1 plus the fail-closed case). */
export type GuardError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'temporarily_unavailable';

export type GuardResult =
  | { readonly ok: true; readonly claims: MandateClaims }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly error: GuardError;
      readonly errorDescription: string;
      /** RFC 6750 challenge to send as the `WWW-Authenticate` header. */
      readonly wwwAuthenticate: string;
    };

/** Which cached decisions a revocation makes stale. No filter clears the whole cache. */
export interface InvalidateFilter {
  readonly jti?: string;
  readonly grant_id?: string;
}

export interface CheckOptions {
  /** The action this request performs; defaults to the guard's `action`. */
  readonly action?: string;
  /** AuthZEN context for the decision (e.g. `{ ip, step }`); part of the cache key. */
  readonly context?: Record<string, unknown>;
}

export interface MandateGuardOptions {
  readonly issuer: string | URL;
  /** The resource client's credentials (HTTP Basic towards Mandate). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** This resource's identifier: the audience tokens must carry. */
  readonly resource: string;
  /** Default action of `check` when the call does not name one. */
  readonly action?: string;
  /** How long a permit is reused (default 1000 ms, at most 5000 ms). */
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
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

export interface MandateGuard {
  /** Decides one request from its `Authorization` header. Never throws for a bad token. */
  check(authorization: string | null | undefined, options?: CheckOptions): Promise<GuardResult>;
  /** Drops cached permits matching the filter (all of them without one); returns how many. */
  invalidate(filter?: InvalidateFilter): number;
  /** Stops the event hook and empties the cache; later checks fail closed. */
  close(): void;
}

export const MAX_CACHE_TTL_MS = 5000;

/** Asymmetric algorithms only: a shared-secret `alg` must never verify a Mandate token. */
const ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
  'Ed25519',
];

/** jose codes that mean the token is bad, as opposed to the keys being unreachable. */
const TOKEN_FAULTS = new Set([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JWSInvalid.code,
  errors.JWTInvalid.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
]);

interface CachedPermit {
  readonly claims: MandateClaims;
  readonly expiresAtMs: number;
}

interface Discovered extends DiscoveredIssuer {
  readonly jwks: JWTVerifyGetKey;
}

type Verdict = { decision: true } | { decision: false; inactive: boolean };

/**
 * Creates a guard for one resource. Options are checked here, so a misconfigured guard fails
 * at start-up rather than on the first request.
 */
export function createMandateGuard(options: MandateGuardOptions): MandateGuard {
  const { clientId, clientSecret, resource } = options;
  if (!clientId || !clientSecret)
    throw new TypeError('createMandateGuard: clientId and clientSecret are required');
  if (!resource) throw new TypeError('createMandateGuard: resource is required');
  const issuer = new URL(options.issuer);
  const ttlMs = options.cacheTtlMs ?? 1000;
  if (!(ttlMs >= 0 && ttlMs <= MAX_CACHE_TTL_MS)) {
    throw new RangeError(
      `createMandateGuard: cacheTtlMs must be between 0 and ${MAX_CACHE_TTL_MS}`,
    );
  }
  const cacheMax = options.cacheMax ?? 10_000;
  if (!(Number.isInteger(cacheMax) && cacheMax >= 0))
    throw new RangeError('createMandateGuard: cacheMax must be an integer >= 0');
  const timeoutMs = options.timeoutMs ?? 3000;
  const realm = options.realm ?? resource;
  const now = options.now ?? Date.now;
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const client: oauth.Client = { client_id: clientId };
  const basic = basicCredentials(clientId, clientSecret);
  const evaluationUrl = new URL(
    'access/v1/evaluation',
    issuer.href.endsWith('/') ? issuer : `${issuer.href}/`,
  );

  // Insertion order doubles as recency: a hit is re-inserted, the first key is the oldest.
  const cache = new Map<string, CachedPermit>();
  let evaluationMissing = false;
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

  function refuse(status: 401 | 403 | 503, error: GuardError, description: string): GuardResult {
    const desc = description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ');
    // RFC 6750 3.1: a request without credentials gets a challenge without an error code.
    const wwwAuthenticate =
      error === 'invalid_request' || status === 503
        ? `Bearer realm="${quote(realm)}"`
        : `Bearer realm="${quote(realm)}", error="${error}", error_description="${desc}"`;
    return { ok: false, status, error, errorDescription: desc, wwwAuthenticate };
  }

  function invalidate(filter?: InvalidateFilter): number {
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
  }

  function remember(key: string, claims: MandateClaims): void {
    if (cacheMax === 0 || ttlMs === 0) return;
    const expMs = typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY;
    const expiresAtMs = Math.min(now() + ttlMs, expMs);
    cache.delete(key);
    while (cache.size >= cacheMax) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(key, { claims, expiresAtMs });
  }

  function recall(key: string): MandateClaims | undefined {
    const entry = cache.get(key);
    if (!entry) return undefined;
    cache.delete(key);
    if (now() >= entry.expiresAtMs) return undefined;
    cache.set(key, entry);
    return entry.claims;
  }

  async function evaluate(
    token: string,
    claims: MandateClaims,
    action: string,
    context?: Record<string, unknown>,
  ): Promise<Verdict | 'missing'> {
    const body = {
      subject: { type: 'agent', id: claims.client_id ?? claims.sub ?? '', properties: { token } },
      action: { name: action },
      resource: { type: 'resource', id: resource },
      ...(context ? { context } : {}),
    };
    const response = await fetchImpl(evaluationUrl, {
      method: 'POST',
      headers: {
        authorization: basic,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return 'missing';
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`evaluation answered ${response.status}`);
    }
    const answer = (await response.json()) as { decision?: unknown };
    return answer.decision === true ? { decision: true } : { decision: false, inactive: false };
  }

  async function introspect(d: Discovered, token: string, action: string): Promise<Verdict> {
    const response = await oauth.introspectionRequest(
      d.as,
      client,
      oauth.ClientSecretBasic(clientSecret),
      token,
      {
        ...d.http,
        signal: AbortSignal.timeout(timeoutMs),
        additionalParameters: { token_type_hint: 'access_token' },
      },
    );
    const result = await oauth.processIntrospectionResponse(d.as, client, response);
    if (result.active !== true) return { decision: false, inactive: true };
    const details = (result.authorization_details ?? []) as unknown as GrantedTask[];
    return allowsPair(details, action, resource)
      ? { decision: true }
      : { decision: false, inactive: false };
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
    const token = bearerToken(authorization);
    if (token === undefined) return refuse(401, 'invalid_request', 'a Bearer token is required');
    if (token === '')
      return refuse(
        401,
        'invalid_token',
        'the Authorization header is not a valid Bearer credential',
      );

    const key = `${createHash('sha256').update(token).digest('base64url')}\u0000${action}\u0000${canonicalJson(opts.context ?? null)}`;
    const cached = recall(key);
    if (cached) return { ok: true, claims: cached };

    let d: Discovered;
    try {
      d = await discover();
    } catch {
      return refuse(503, 'temporarily_unavailable', 'Mandate could not be reached');
    }

    let claims: MandateClaims;
    try {
      const verified = await jwtVerify<MandateClaims>(token, d.jwks, {
        issuer: d.as.issuer,
        audience: resource,
        typ: 'at+jwt',
        algorithms: ALGORITHMS,
        currentDate: new Date(now()),
      });
      claims = verified.payload;
    } catch (err) {
      if (err instanceof errors.JOSEError && TOKEN_FAULTS.has(err.code)) {
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

    let verdict: Verdict;
    try {
      const answer = evaluationMissing
        ? 'missing'
        : await evaluate(token, claims, action, opts.context);
      if (answer === 'missing') {
        // A broker without AuthZEN still answers RFC 7662; remember so each call costs one request.
        evaluationMissing = true;
        verdict = await introspect(d, token, action);
      } else {
        verdict = answer;
      }
    } catch {
      return refuse(503, 'temporarily_unavailable', 'Mandate could not decide the request');
    }
    if (closed) return refuse(503, 'temporarily_unavailable', 'the guard is closed');
    if (!verdict.decision) {
      return verdict.inactive
        ? refuse(401, 'invalid_token', 'the token is not active')
        : refuse(
            403,
            'insufficient_scope',
            `the grant does not permit ${action} on this resource now`,
          );
    }
    remember(key, claims);
    return { ok: true, claims };
  }

  function close(): void {
    closed = true;
    cache.clear();
    unsubscribe?.();
  }

  return { check, invalidate, close };
}

/** The token of a `Bearer` header; undefined when there is none, '' when it is malformed. */
function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (match) return match[1] ?? '';
  return /^Bearer(\s|$)/i.test(header) ? '' : undefined;
}

function quote(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}
