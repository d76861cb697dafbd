// RFC 9449 DPoP proofs: the pure checks of a proof's header and claims (4.3), and how a refusal reads.

/** The proof algorithms Mandate accepts (metadata `dpop_signing_alg_values_supported`): never none or HS*. */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'PS256', 'RS256'] as const;
export type DpopAlg = (typeof DPOP_ALGORITHMS)[number];

/** Largest proof looked at, in bytes: a real one is well under 1 KiB (an RSA key makes it ~1.5 KiB). */
export const MAX_DPOP_PROOF_BYTES = 8192;

/** Smallest RSA modulus a proof key may have, in bits. */
export const MIN_RSA_BITS = 2048;

/** Why a proof was refused: recorded and counted, never shown with the proof. */
export type DpopRejection =
  | 'missing'
  | 'several_proofs'
  | 'too_large'
  | 'malformed'
  | 'wrong_type'
  | 'bad_alg'
  | 'bad_key'
  | 'bad_signature'
  | 'bad_claims'
  | 'wrong_method'
  | 'wrong_uri'
  | 'stale'
  | 'early'
  | 'missing_ath'
  | 'wrong_ath'
  | 'wrong_key'
  | 'nonce_required'
  | 'bad_nonce'
  | 'replayed';

/** The error_description of each refusal: names what failed, never echoes the proof. */
export const DPOP_REJECTION_TEXT: Record<DpopRejection, string> = {
  missing: 'a DPoP proof is required',
  several_proofs: 'send exactly one DPoP header',
  too_large: `the DPoP proof is larger than ${MAX_DPOP_PROOF_BYTES} bytes`,
  malformed: 'the DPoP proof is not a compact JWS with a JSON header and payload',
  wrong_type: 'the DPoP proof must have typ dpop+jwt',
  bad_alg: `the DPoP proof alg must be one of ${DPOP_ALGORITHMS.join(', ')}`,
  bad_key: 'the DPoP proof jwk must be a public key matching alg',
  bad_signature: 'the DPoP proof signature does not verify',
  bad_claims: 'the DPoP proof needs jti, htm, htu and a numeric iat',
  wrong_method: 'the DPoP proof htm does not match the request method',
  wrong_uri: 'the DPoP proof htu does not match the request URI',
  stale: 'the DPoP proof iat is too old',
  early: 'the DPoP proof iat is in the future',
  missing_ath: 'the DPoP proof has no ath for the access token',
  wrong_ath: 'the DPoP proof ath does not match the access token',
  wrong_key: 'the DPoP proof is not signed by the key the token is bound to',
  nonce_required: 'the DPoP proof must carry the server nonce (see the DPoP-Nonce header)',
  bad_nonce: 'the DPoP proof nonce is not current (see the DPoP-Nonce header)',
  replayed: 'the DPoP proof was used before',
};

/** A refusal that a fresh server nonce cures (RFC 9449 8: `use_dpop_nonce`). */
export const isNonceRejection = (r: DpopRejection) => r === 'nonce_required' || r === 'bad_nonce';

/** A proof key: the public members of an EC P-256, Ed25519 or RSA JWK. */
export type DpopJwk =
  | { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string }
  | { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string }
  | { readonly kty: 'RSA'; readonly n: string; readonly e: string };

/** What a checked proof header holds. */
export interface DpopHeader {
  readonly alg: DpopAlg;
  readonly jwk: DpopJwk;
}

/** What a checked proof says about itself. */
export interface DpopProofFacts {
  /** RFC 7638 SHA-256 thumbprint of the proof key (what `cnf.jkt` holds). */
  readonly jkt: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
}

/** A proof's verdict: its facts, or why it was refused. */
export type DpopCheck = ({ readonly ok: true } & DpopProofFacts) | DpopRefusal;
export interface DpopRefusal {
  readonly ok: false;
  readonly reason: DpopRejection;
}

const refuse = (reason: DpopRejection): DpopRefusal => ({ ok: false, reason });

/** JWK members that carry private or symmetric key material: a proof must never hold one. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const B64URL = /^[A-Za-z0-9_-]+$/;
/** A base64url member of a proof key: 1 to 1024 characters. */
const isB64 = (v: unknown): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= 1024 && B64URL.test(v);

/** The public members of the JWK an algorithm's proof key must be, or undefined (extra members are dropped). */
function publicKeyOf(alg: DpopAlg, jwk: Readonly<Record<string, unknown>>): DpopJwk | undefined {
  const { kty, crv, x, y, n, e } = jwk;
  if (alg === 'ES256')
    return kty === 'EC' && crv === 'P-256' && isB64(x) && isB64(y) ? { kty, crv, x, y } : undefined;
  if (alg === 'EdDSA')
    return kty === 'OKP' && crv === 'Ed25519' && isB64(x) ? { kty, crv, x } : undefined;
  return kty === 'RSA' && isB64(n) && isB64(e) ? { kty, n, e } : undefined;
}

/**
 * RFC 9449 4.3 items 4-7 on the header: `typ` dpop+jwt, an asymmetric `alg` of DPOP_ALGORITHMS,
 * a `jwk` that is a public key of that algorithm's type, no JWS extension (`crit`, `b64`). The
 * signature is checked elsewhere (it needs the key).
 */
export function checkProofHeader(
  header: Readonly<Record<string, unknown>>,
): { ok: true; header: DpopHeader } | DpopRefusal {
  if (header.typ !== 'dpop+jwt') return refuse('wrong_type');
  const alg = header.alg;
  if (typeof alg !== 'string' || !(DPOP_ALGORITHMS as readonly string[]).includes(alg))
    return refuse('bad_alg');
  if ('crit' in header || 'b64' in header) return refuse('malformed');
  const jwk = header.jwk;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return refuse('bad_key');
  if (SECRET_MEMBERS.some((m) => m in jwk)) return refuse('bad_key');
  const key = publicKeyOf(alg as DpopAlg, jwk as Readonly<Record<string, unknown>>);
  if (!key) return refuse('bad_key');
  // A modulus under MIN_RSA_BITS: its base64url text is shorter than the bytes it needs.
  if (key.kty === 'RSA' && key.n.length < Math.ceil((MIN_RSA_BITS / 8) * (4 / 3)))
    return refuse('bad_key');
  return { ok: true, header: { alg: alg as DpopAlg, jwk: key } };
}

/** The members of a JWK its RFC 7638 thumbprint is the SHA-256 of, in their required order. */
export function thumbprintInput(jwk: DpopJwk): string {
  if (jwk.kty === 'EC') return JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  if (jwk.kty === 'OKP') return JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
}

/** The claims a proof must carry, each within its size. */
interface ProofClaims {
  readonly jti: string;
  readonly htm: string;
  readonly htu: string;
  readonly iat: number;
  readonly ath?: string | undefined;
  readonly nonce?: string | undefined;
}

const isText = (v: unknown, min: number, max: number): v is string =>
  typeof v === 'string' && v.length >= min && v.length <= max;
const isOptionalText = (v: unknown, max: number): v is string | undefined =>
  v === undefined || isText(v, 0, max);

/** The payload's proof claims when each has its type and size, else undefined. */
function proofClaimsOf(payload: unknown): ProofClaims | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const { jti, htm, htu, iat, ath, nonce } = payload as Record<string, unknown>;
  if (!isText(jti, 1, 256) || !isText(htm, 1, 16) || !isText(htu, 1, 2048)) return undefined;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return undefined;
  if (!isOptionalText(ath, 128) || !isOptionalText(nonce, 512)) return undefined;
  return { jti, htm, htu, iat, ath, nonce };
}

/** What a proof must show for the request it came with. */
export interface ProofExpectation {
  /** The request's method (`htm` is compared exactly: methods are case-sensitive). */
  readonly method: string;
  /** The request's URI; `htu` is compared without query and fragment (RFC 9449 4.3 item 9). */
  readonly uri: string;
  readonly nowSec: number;
  /** How far `iat` may lie from now, either side, clock tolerance included (s). */
  readonly windowSec: number;
  /** base64url SHA-256 of the access token the proof comes with (`ath`), if it comes with one. */
  readonly ath?: string | undefined;
  /** When the server requires a nonce: whether a presented one is current. */
  readonly nonce?: ((nonce: string) => boolean) | undefined;
}

/**
 * RFC 9449 4.3 items 8-12 on the payload: `htm`, `htu`, `iat` within the window, `ath` when the
 * proof comes with an access token, `nonce` when the server requires one. The jti's single use
 * is claimed by the caller once every other check passed.
 */
export function checkProofClaims(
  payload: unknown,
  expected: ProofExpectation,
): { ok: true; jti: string; iat: number } | DpopRefusal {
  const claims = proofClaimsOf(payload);
  if (!claims) return refuse('bad_claims');
  if (claims.htm !== expected.method) return refuse('wrong_method');
  if (!sameHtu(claims.htu, expected.uri)) return refuse('wrong_uri');
  if (claims.iat < expected.nowSec - expected.windowSec) return refuse('stale');
  if (claims.iat > expected.nowSec + expected.windowSec) return refuse('early');
  if (expected.ath !== undefined) {
    if (claims.ath === undefined) return refuse('missing_ath');
    if (claims.ath !== expected.ath) return refuse('wrong_ath');
  }
  if (expected.nonce) {
    if (claims.nonce === undefined) return refuse('nonce_required');
    if (!expected.nonce(claims.nonce)) return refuse('bad_nonce');
  }
  return { ok: true, jti: claims.jti, iat: claims.iat };
}

/**
 * An http(s) URI as `htu` compares it: scheme and host lower-cased, default port dropped, dot
 * segments resolved (RFC 3986 6.2.2-6.2.3), query and fragment left out. Undefined when it is not
 * an absolute http(s) URI.
 */
export function htuOf(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password) return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** True when the proof's `htu` names the request's URI (see htuOf). */
export function sameHtu(htu: string, requestUri: string): boolean {
  const a = htuOf(htu);
  return a !== undefined && a === htuOf(requestUri);
}

/** The token endpoint's public URI, derived from the issuer (what token-request proofs' `htu` must name). */
export function tokenEndpointOf(issuer: string): string {
  return `${issuer}/oauth/token`;
}

/** A DPoP header's value as received: several headers (joined by commas) and oversized ones are refused unread. */
export function proofTextRefusal(value: string): DpopRefusal | undefined {
  if (value.includes(',')) return refuse('several_proofs');
  if (value.length > MAX_DPOP_PROOF_BYTES) return refuse('too_large');
  if (value.trim() === '') return refuse('malformed');
  return undefined;
}
