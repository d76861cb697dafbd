// JWT client assertions (RFC 7523 2.2) and assertion grants (RFC 7523 2.1): parameters, algorithms, claim checks.

/** `client_assertion_type` of a JWT client assertion (RFC 7523 2.2). */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** `grant_type` of the JWT bearer grant (RFC 7523 2.1). */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/**
 * Signature algorithms an assertion may use: asymmetric only, never `none` or HMAC. `Ed25519` is
 * EdDSA's fully-specified name (RFC 9864), which oauth4webapi sends for Ed25519 keys.
 */
export const ASSERTION_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] as const;
/** The furthest ahead a private_key_jwt assertion's `exp` may lie (seconds). */
export const MAX_ASSERTION_LIFETIME_SEC = 300;
/** The longest assertion even looked at (a real one is 0.5-2 KB; a Kubernetes token about 1.5 KB). */
export const MAX_ASSERTION_LENGTH = 8192;

/** Why an assertion is refused: recorded for operators, never shown with the assertion. */
export type AssertionRejection =
  | 'malformed'
  | 'unsupported_alg'
  | 'unknown_client'
  | 'unknown_issuer'
  | 'no_keys'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_subject'
  | 'wrong_audience'
  | 'expired'
  | 'exp_too_far'
  | 'not_yet_valid'
  | 'missing_jti'
  | 'replayed'
  | 'no_subject_match'
  | 'client_mismatch'
  | 'client_disabled';

/** What each rejection tells the presenter (names the field, never echoes it). */
export const REJECTION_DESCRIPTIONS: Record<AssertionRejection, string> = {
  malformed: 'the assertion is not a well-formed signed JWT',
  unsupported_alg: `the assertion's alg must be one of ${ASSERTION_ALGS.join(', ')}`,
  unknown_client: 'client authentication failed',
  unknown_issuer: 'the assertion is not from a trusted issuer',
  no_keys: 'no key verifies the assertion',
  bad_signature: 'the assertion signature does not verify',
  wrong_issuer: 'the assertion iss is wrong',
  wrong_subject: 'the assertion sub must equal iss and the client_id',
  wrong_audience: 'the assertion aud does not name this server',
  expired: 'the assertion has expired',
  exp_too_far: `the assertion exp lies more than ${MAX_ASSERTION_LIFETIME_SEC} s ahead`,
  not_yet_valid: 'the assertion is not valid yet (nbf or iat in the future)',
  missing_jti: 'the assertion needs a jti',
  replayed: 'the assertion was used before',
  no_subject_match: 'no subject_map rule of the issuer matches the token',
  client_mismatch: 'client_id does not match the assertion',
  client_disabled: 'client authentication failed',
};

export interface DecodedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The header and payload of a compact JWS (unverified), or undefined when it is not one. */
export function decodeCompactJwt(text: string): DecodedJwt | undefined {
  if (text.length > MAX_ASSERTION_LENGTH) return undefined;
  const parts = text.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return undefined;
  const header = decodeSegment(parts[0] as string);
  const payload = decodeSegment(parts[1] as string);
  return header && payload ? { header, payload } : undefined;
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const binary = atob(segment.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** True when the header's alg is one an assertion may use. */
export function isAssertionAlg(alg: unknown): alg is (typeof ASSERTION_ALGS)[number] {
  return typeof alg === 'string' && (ASSERTION_ALGS as readonly string[]).includes(alg);
}

/** A JWT's `aud` as a list (empty when absent or of the wrong type). */
export function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return aud;
  return [];
}

export interface TimeWindow {
  readonly nowSec: number;
  readonly toleranceSec: number;
}

/** `exp` present and not passed; `nbf` and `iat`, when present, not in the future. */
function checkTimes(
  payload: Readonly<Record<string, unknown>>,
  { nowSec, toleranceSec }: TimeWindow,
): AssertionRejection | undefined {
  const { exp, nbf, iat } = payload;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'malformed';
  if (exp <= nowSec - toleranceSec) return 'expired';
  for (const t of [nbf, iat]) {
    if (t === undefined) continue;
    if (typeof t !== 'number' || !Number.isFinite(t)) return 'malformed';
    if (t > nowSec + toleranceSec) return 'not_yet_valid';
  }
  return undefined;
}

export type ClaimCheck<T> = { ok: true; value: T } | { ok: false; reason: AssertionRejection };

/**
 * The claims of a private_key_jwt assertion (RFC 7523 3, OpenID Connect Core 9): `iss` = `sub` =
 * the client id, `aud` naming one of `audiences`, `exp` not passed and at most
 * MAX_ASSERTION_LIFETIME_SEC ahead, a `jti` to spend once (kept until `exp`).
 */
export function checkClientAssertionClaims(
  payload: Readonly<Record<string, unknown>>,
  expected: { clientId: string; audiences: readonly string[] } & TimeWindow,
): ClaimCheck<{ jti: string; exp: number }> {
  if (payload.iss !== expected.clientId) return { ok: false, reason: 'wrong_issuer' };
  if (payload.sub !== expected.clientId) return { ok: false, reason: 'wrong_subject' };
  if (!audienceList(payload.aud).some((a) => expected.audiences.includes(a)))
    return { ok: false, reason: 'wrong_audience' };
  const times = checkTimes(payload, expected);
  if (times) return { ok: false, reason: times };
  const exp = payload.exp as number;
  if (exp > expected.nowSec + MAX_ASSERTION_LIFETIME_SEC + expected.toleranceSec)
    return { ok: false, reason: 'exp_too_far' };
  const { jti } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)
    return { ok: false, reason: 'missing_jti' };
  return { ok: true, value: { jti, exp } };
}

/**
 * The claims of a workload token from a trusted issuer: `iss` exactly the issuer, `aud` naming
 * the entry's audience, `exp` not passed, a `sub`. It may be presented again while valid.
 */
export function checkWorkloadClaims(
  payload: Readonly<Record<string, unknown>>,
  expected: { issuer: string; audience: string } & TimeWindow,
): ClaimCheck<{ subject: string }> {
  if (payload.iss !== expected.issuer) return { ok: false, reason: 'wrong_issuer' };
  if (!audienceList(payload.aud).includes(expected.audience))
    return { ok: false, reason: 'wrong_audience' };
  const times = checkTimes(payload, expected);
  if (times) return { ok: false, reason: times };
  const { sub } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 1024)
    return { ok: false, reason: 'wrong_subject' };
  return { ok: true, value: { subject: sub } };
}

/**
 * Which path an assertion takes: a workload token when its `iss` is a URL (a trusted issuer's),
 * a private_key_jwt assertion otherwise (client ids hold no `:`, so the two never meet).
 */
export function isIssuerUrl(iss: unknown): iss is string {
  return typeof iss === 'string' && iss.includes(':') && URL.canParse(iss);
}
