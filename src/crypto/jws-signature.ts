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
