// One JWS signature check (RFC 7515 compact input) with bare node:crypto calls, for every verifier:
// our access tokens, DPoP proofs and client assertions.
import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { joseToDer } from './ecdsa-signature.ts';

export type JwsAlg = 'ES256' | 'EdDSA' | 'RS256' | 'PS256';

/**
 * Verifies `signature` (raw bytes of the JWS's third segment) over `input` (`<header>.<payload>`)
 * with `key` and `alg`, on libuv's thread pool; false for anything odd, never a throw. ECDSA
 * signatures go in as DER and keys bare: the `{ key, dsaEncoding }` options object roughly doubles
 * the cost of a verify call (PS256 needs its padding options regardless).
 */
export function verifyJwsSignature(
  alg: JwsAlg,
  key: KeyObject,
  input: string,
  signature: Buffer,
): Promise<boolean> {
  let sig = signature;
  if (alg === 'ES256') {
    if (sig.length !== 64) return Promise.resolve(false);
    sig = joseToDer(sig, 32);
  }
  const data = Buffer.from(input);
  const verifyKey =
    alg === 'PS256' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key;
  return new Promise((resolve) => {
    try {
      cryptoVerify(alg === 'EdDSA' ? null : 'sha256', data, verifyKey, sig, (err, ok) =>
        resolve(!err && ok === true),
      );
    } catch {
      resolve(false);
    }
  });
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The three segments of a compact JWS, each non-empty strict base64url, or undefined. */
export function compactSegments(jws: string): [string, string, string] | undefined {
  const parts = jws.split('.');
  return parts.length === 3 && parts.every((p) => B64URL.test(p))
    ? (parts as [string, string, string])
    : undefined;
}

/** A JWS segment that decodes to a JSON object, or undefined. */
export function jsonSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
