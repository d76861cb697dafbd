// RFC 9449 in the SDK: an agent's proof key and proofs, and a resource guard's check of a presented proof.
import { createHash, randomBytes } from 'node:crypto';
import {
  calculateJwkThumbprint,
  compactVerify,
  decodeProtectedHeader,
  EmbeddedJWK,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from 'jose';
import {
  checkProofClaims,
  checkProofHeader,
  DPOP_ALGORITHMS,
  DPOP_REJECTION_TEXT,
  type DpopRejection,
  htuOf,
  proofTextRefusal,
} from '../domain/dpop.ts';

/** A WebCrypto key pair (as `crypto.subtle.generateKey` and jose's `generateKeyPair` return it). */
export interface CryptoKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

/** The agent's DPoP key: `true` makes a fresh ES256 pair (private key not extractable), or bring your own. */
export type DpopKeyOption = true | CryptoKeyPair;

/** Makes the agent's proofs with one key. */
export interface DpopProver {
  /** The key pair (oauth4webapi's `DPoP()` takes it for token requests). */
  keyPair(): Promise<CryptoKeyPair>;
  /** RFC 7638 thumbprint of the public key: what bound tokens carry as `cnf.jkt`. */
  thumbprint(): Promise<string>;
  /**
   * A proof for one request (`htm`, `htu` without query and fragment, `iat`, a fresh `jti`), with
   * `ath` for the access token it goes with and a server `nonce` when one was asked for.
   */
  proof(
    method: string,
    url: string | URL,
    options?: { accessToken?: string; nonce?: string },
  ): Promise<string>;
}

/** The JWS algorithm of a WebCrypto signing key, among the ones Mandate accepts. */
function algOf(key: CryptoKey): (typeof DPOP_ALGORITHMS)[number] {
  const algorithm = key.algorithm as { name: string; namedCurve?: string };
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return 'ES256';
  if (algorithm.name === 'Ed25519') return 'EdDSA';
  if (algorithm.name === 'RSA-PSS') return 'PS256';
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') return 'RS256';
  throw new TypeError(
    `DPoP: unsupported key algorithm ${algorithm.name}; use ES256, EdDSA, PS256 or RS256`,
  );
}

export function createDpopProver(option: DpopKeyOption): DpopProver {
  if (option !== true) algOf(option.privateKey);
  let pair: Promise<CryptoKeyPair> | undefined;
  let header: Promise<{ alg: string; typ: 'dpop+jwt'; jwk: JWK }> | undefined;
  let jkt: Promise<string> | undefined;
  const keyPair = () =>
    (pair ??=
      option === true
        ? (generateKeyPair('ES256', { extractable: false }) as Promise<CryptoKeyPair>)
        : Promise.resolve(option));
  const headerOf = () =>
    (header ??= keyPair().then(async (p) => {
      const { kty, crv, x, y, n, e } = await exportJWK(p.publicKey);
      const jwk = Object.fromEntries(
        Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined),
      ) as JWK;
      return { alg: algOf(p.privateKey), typ: 'dpop+jwt' as const, jwk };
    }));
  return {
    keyPair,
    thumbprint: () => (jkt ??= headerOf().then((h) => calculateJwkThumbprint(h.jwk, 'sha256'))),
    async proof(method, url, options = {}) {
      const htu = htuOf(String(url));
      if (!htu) throw new TypeError('DPoP: the URL must be an absolute http(s) URL');
      const [h, p] = await Promise.all([headerOf(), keyPair()]);
      return new SignJWT({
        htm: method.toUpperCase(),
        htu,
        ...(options.accessToken ? { ath: accessTokenHash(options.accessToken) } : {}),
        ...(options.nonce ? { nonce: options.nonce } : {}),
      })
        .setProtectedHeader(h)
        .setIssuedAt()
        .setJti(randomBytes(16).toString('base64url'))
        .sign(p.privateKey);
    },
  };
}

/** base64url(SHA-256(access token)): the `ath` of a proof that comes with it. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** What a resource checks a presented proof against. */
export interface ResourceProofExpectation {
  readonly method: string;
  readonly url: string;
  readonly accessToken: string;
  /** The token's `cnf.jkt`. */
  readonly jkt: string;
  readonly nowSec: number;
  readonly windowSec: number;
}

/**
 * RFC 9449 4.3 and 7.1 at a resource: one proof of the right size and form, `typ`, an allowed
 * `alg`, a public `jwk`, its signature, `htm`, `htu`, `iat` within the window, `ath` of the token,
 * and a key whose thumbprint is the token's `cnf.jkt`. The jti's single use is the caller's.
 */
export async function checkResourceProof(
  proof: string | null | undefined,
  expected: ResourceProofExpectation,
): Promise<{ ok: true; jti: string; iat: number } | { ok: false; reason: DpopRejection }> {
  if (proof === null || proof === undefined) return { ok: false, reason: 'missing' };
  const unread = proofTextRefusal(proof);
  if (unread) return unread;
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const checked = checkProofHeader(header);
  if (!checked.ok) return checked;
  let payload: unknown;
  try {
    const verified = await compactVerify(proof, EmbeddedJWK, { algorithms: [...DPOP_ALGORITHMS] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload));
  } catch {
    return { ok: false, reason: 'bad_signature' };
  }
  const claims = checkProofClaims(payload, {
    method: expected.method,
    uri: expected.url,
    nowSec: expected.nowSec,
    windowSec: expected.windowSec,
    ath: accessTokenHash(expected.accessToken),
  });
  if (!claims.ok) return claims;
  if ((await calculateJwkThumbprint(checked.header.jwk as JWK, 'sha256')) !== expected.jkt)
    return { ok: false, reason: 'wrong_key' };
  return claims;
}

/**
 * The proofs a guard has accepted, by key and jti, until they could no longer be accepted anyway:
 * a replayed proof is refused. Bounded: beyond `max` the oldest is forgotten first.
 */
export function createSeenProofs(max: number) {
  const seen = new Map<string, number>();
  return {
    /** True the first time within its lifetime; false for a replay. */
    claim(key: string, untilSec: number, nowSec: number): boolean {
      const until = seen.get(key);
      if (until !== undefined && until >= nowSec) return false;
      seen.delete(key);
      for (const [k, u] of seen) {
        if (seen.size < max && u >= nowSec) break;
        seen.delete(k);
      }
      seen.set(key, untilSec);
      return true;
    },
  };
}

/** The request a resource guards, as a DPoP proof must name it. */
export interface GuardedRequest {
  readonly method: string;
  /** The full URL the client called (behind a proxy: the public one). */
  readonly url: string;
  /** The request's `DPoP` header (several headers joined by commas are refused). */
  readonly dpop?: string | null | undefined;
}

/** Why a presented token's binding does not hold. */
export interface BindingFault {
  readonly error: 'invalid_token' | 'invalid_dpop_proof';
  readonly description: string;
}

/**
 * Creates a guard's check that a token is presented as its binding demands: a DPoP-bound token
 * (`cnf.jkt`) only with the DPoP scheme and a fresh proof by its key for this request, used once;
 * an unbound one only as Bearer.
 */
export function createBindingCheck(options: { windowSec: number; maxSeen: number }) {
  const seen = createSeenProofs(options.maxSeen);
  return async function bindingFault(
    scheme: 'Bearer' | 'DPoP',
    token: string,
    jkt: string | undefined,
    request: GuardedRequest | undefined,
    nowSec: number,
  ): Promise<BindingFault | undefined> {
    if (jkt === undefined) {
      return scheme === 'DPoP'
        ? { error: 'invalid_token', description: 'the token is not DPoP-bound' }
        : undefined;
    }
    if (scheme !== 'DPoP')
      return {
        error: 'invalid_dpop_proof',
        description: 'the token is DPoP-bound: present it with the DPoP scheme and a proof',
      };
    const checked = request
      ? await checkResourceProof(request.dpop, {
          method: request.method,
          url: request.url,
          accessToken: token,
          jkt,
          nowSec,
          windowSec: options.windowSec,
        })
      : ({ ok: false, reason: 'missing' } as const);
    if (!checked.ok)
      return { error: 'invalid_dpop_proof', description: DPOP_REJECTION_TEXT[checked.reason] };
    if (!seen.claim(`${jkt}.${checked.jti}`, Math.ceil(checked.iat) + options.windowSec, nowSec))
      return { error: 'invalid_dpop_proof', description: DPOP_REJECTION_TEXT.replayed };
    return undefined;
  };
}
