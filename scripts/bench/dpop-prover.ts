// DPoP proofs for the load generator: one ES256 key, proofs signed ahead of the timed run (RFC 9449).
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const b64u = (v: string | Buffer) => Buffer.from(v).toString('base64url');

/** Makes proofs with one fresh P-256 key; each has its own jti, so each is good for one request. */
export function createBenchProver() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  const header = b64u(JSON.stringify({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty, crv, x, y } }));
  return {
    /** A proof for `method` on `url`, with `ath` when it goes with an access token. */
    proof(method: string, url: string, accessToken?: string): string {
      const claims = {
        jti: randomBytes(12).toString('base64url'),
        htm: method,
        htu: url,
        iat: Math.floor(Date.now() / 1000),
        ...(accessToken
          ? { ath: createHash('sha256').update(accessToken).digest('base64url') }
          : {}),
      };
      const input = `${header}.${b64u(JSON.stringify(claims))}`;
      const signature = sign('sha256', Buffer.from(input), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      return `${input}.${b64u(signature)}`;
    },
  };
}
