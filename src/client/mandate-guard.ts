// Resource-side guard: verifies a Mandate token offline, then asks Mandate about this call.
import { createHash, timingSafeEqual } from 'node:crypto';
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
import { CAEP_EVENT_TYPE } from '../domain/security-event.ts';
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
  /**
   * AuthZEN context for the decision (e.g. `{ ip, step }`); part of the cache key. `ip` must come
   * from the socket or a proxy you trust (the rightmost untrusted hop), never from a header the
   * caller sets.
   */
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
  /**
   * The `aud` that pushed Security Event Tokens must carry: the `audience` this resource was
   * registered with at `POST /admin/receivers` (default: `resource`).
   */
  readonly eventAudience?: string;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

/**
 * RFC 8935 section 2.4 codes a receiver answers a refused SET with; `temporarily_unavailable`
 * is not one of them: the keys could not be fetched, so the transmitter should retry.
 */
export type SecurityEventError =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'temporarily_unavailable';

export type SecurityEventResult =
  | {
      readonly ok: true;
      /** The grant the event is about (the first, should one SET carry several events). */
      readonly grantId: string;
      /** How many cached permits were dropped. */
      readonly invalidated: number;
    }
  | {
      readonly ok: false;
      readonly grantId?: undefined;
      readonly err: SecurityEventError;
      readonly description: string;
    };

export interface MandateGuard {
  /** Decides one request from its `Authorization` header. Never throws for a bad token. */
  check(authorization: string | null | undefined, options?: CheckOptions): Promise<GuardResult>;
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

export const MAX_CACHE_TTL_MS = 5000;

/** Largest SET a receiver reads (RFC 8935 push body); Mandate's are well under 2 KiB. */
export const MAX_SET_BYTES = 64 * 1024;

const CAEP_EVENT_TYPES = new Set(Object.values(CAEP_EVENT_TYPE));

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
  const eventAudience = options.eventAudience ?? resource;
  if (!eventAudience) throw new TypeError('createMandateGuard: eventAudience must not be empty');
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
  // Bumped by every invalidate: a check whose broker call was in flight when an invalidation
  // arrived must not cache the answer it got before the revocation.
  let generation = 0;
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
    const askedAt = generation;

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
    if (askedAt === generation) remember(key, claims);
    return { ok: true, claims };
  }

  async function receiveSecurityEvent(setJwt: string): Promise<SecurityEventResult> {
    if (closed) return eventRefusal('temporarily_unavailable', 'the guard is closed');
    const compact = typeof setJwt === 'string' ? setJwt.trim() : '';
    if (!compact || compact.length > MAX_SET_BYTES)
      return eventRefusal('invalid_request', 'the body is not a Security Event Token');

    let d: Discovered;
    try {
      d = await discover();
    } catch {
      return eventRefusal('temporarily_unavailable', 'Mandate could not be reached');
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(compact, d.jwks, {
        issuer: d.as.issuer,
        audience: eventAudience,
        typ: 'secevent+jwt',
        algorithms: ALGORITHMS,
        currentDate: new Date(now()),
      }));
    } catch (err) {
      return setRefusal(err);
    }

    const [grantId, ...more] = eventGrantIds(payload);
    if (grantId === undefined) {
      return eventRefusal(
        'invalid_request',
        'the SET has no CAEP session-revoked or token-claims-change event with an opaque subject',
      );
    }
    let invalidated = invalidate({ grant_id: grantId });
    for (const id of more) invalidated += invalidate({ grant_id: id });
    return { ok: true, grantId, invalidated };
  }

  function close(): void {
    closed = true;
    cache.clear();
    unsubscribe?.();
  }

  return { check, invalidate, receiveSecurityEvent, close };
}

function eventRefusal(err: SecurityEventError, description: string): SecurityEventResult {
  return { ok: false, err, description };
}

/** The RFC 8935 code for a SET jose refused; key-fetch trouble is the transmitter's to retry. */
function setRefusal(err: unknown): SecurityEventResult {
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss')
      return eventRefusal('invalid_issuer', 'the SET is from another issuer');
    if (err.claim === 'aud')
      return eventRefusal('invalid_audience', 'the SET is for another audience');
    return eventRefusal('invalid_request', `the SET claim ${err.claim} is not valid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return eventRefusal('authentication_failed', 'the SET signature does not verify');
  if (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JOSENotSupported
  )
    return eventRefusal('invalid_key', 'the SET is not signed by a key of the issuer');
  if (err instanceof errors.JOSEError && TOKEN_FAULTS.has(err.code))
    return eventRefusal('invalid_request', 'the body is not a valid Security Event Token');
  return eventRefusal('temporarily_unavailable', 'the signing keys could not be fetched');
}

/** Grant ids named by the CAEP events of a verified SET (RFC 8417 `events`, subject `opaque`). */
function eventGrantIds(payload: JWTPayload): string[] {
  const events = payload.events;
  if (!isRecord(events)) return [];
  const ids = new Set<string>();
  for (const [type, event] of Object.entries(events)) {
    if (!CAEP_EVENT_TYPES.has(type) || !isRecord(event)) continue;
    // CAEP 1.0 puts the subject in the event; SSF 1.0 moved it to the top-level `sub_id`.
    const subject = isRecord(event.subject) ? event.subject : payload.sub_id;
    if (
      isRecord(subject) &&
      subject.format === 'opaque' &&
      typeof subject.id === 'string' &&
      subject.id
    )
      ids.add(subject.id);
  }
  return [...ids];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A push to an RFC 8935 endpoint, as any server framework sees it. */
export interface SecurityEventRequest {
  /** The request headers: a Fetch `Headers` or Node's `req.headers`. */
  readonly headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body, read by the caller up to a little past {@link MAX_SET_BYTES}. */
  readonly body: string | Uint8Array;
}

export interface SecurityEventReceiverOptions {
  /**
   * The bearer token given as `authorization` at `POST /admin/receivers`: pushes without
   * `Authorization: Bearer <it>` are refused. Unset, only the SET signature authenticates them.
   */
  readonly authorization?: string;
}

/** What to answer the transmitter: 202 with no body, or 400 with RFC 8935 `{err, description}`. */
export interface SecurityEventResponse {
  readonly status: 202 | 400 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly result: SecurityEventResult;
}

/**
 * Handles one RFC 8935 push for a guard, for any Node server: checks the bearer token (when
 * configured), the `application/secevent+jwt` content type and the size, then hands the SET to
 * `guard.receiveSecurityEvent`. The permits are dropped before this resolves, so the 202 is sent
 * only once they are gone. A SET the keys could not be fetched for gets 503 so Mandate retries.
 */
export async function handleSecurityEventRequest(
  guard: MandateGuard,
  req: SecurityEventRequest,
  options: SecurityEventReceiverOptions = {},
): Promise<SecurityEventResponse> {
  if (
    options.authorization !== undefined &&
    !bearerMatches(headerOf(req.headers, 'authorization'), options.authorization)
  )
    return eventAnswer(eventRefusal('authentication_failed', 'the push is not authorized'));
  const mediaType = (headerOf(req.headers, 'content-type') ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (mediaType !== 'application/secevent+jwt')
    return eventAnswer(
      eventRefusal('invalid_request', 'the content type must be application/secevent+jwt'),
    );
  const size = typeof req.body === 'string' ? Buffer.byteLength(req.body) : req.body.byteLength;
  if (size > MAX_SET_BYTES)
    return eventAnswer(
      eventRefusal('invalid_request', `the SET is larger than ${MAX_SET_BYTES} bytes`),
    );
  const body = typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body);
  return eventAnswer(await guard.receiveSecurityEvent(body));
}

function eventAnswer(result: SecurityEventResult): SecurityEventResponse {
  if (result.ok) return { status: 202, headers: { 'cache-control': 'no-store' }, body: '', result };
  if (result.err === 'temporarily_unavailable')
    return {
      status: 503,
      headers: { 'cache-control': 'no-store', 'retry-after': '1' },
      body: '',
      result,
    };
  return {
    status: 400,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ err: result.err, description: result.description }),
    result,
  };
}

function headerOf(headers: SecurityEventRequest['headers'], name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return typeof value === 'string' ? value : value?.[0];
}

/** Compares digests so the time taken says nothing about the expected token. */
function bearerMatches(header: string | undefined, expected: string): boolean {
  const token = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  if (token === undefined) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(token), digest(expected));
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
