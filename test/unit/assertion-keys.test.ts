// The assertion signature check on its own: jose finds the key, node:crypto verifies; short RSA
// keys, disallowed algorithms, crit headers and a key of another alg are refused.
import { generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAssertionKeys } from '../../src/crypto/assertion-keys.ts';
import type { RemoteJwks } from '../../src/crypto/remote-jwks.ts';

const noRemote = { get: () => undefined } as unknown as RemoteJwks;
const keys = createAssertionKeys(noRemote);
const ALGS = ['ES256', 'EdDSA', 'PS256', 'RS256'] as const;

async function signed(alg: string, bits?: number, header: Record<string, unknown> = {}) {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: bits ?? 2048 });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg };
  if (bits === undefined && Object.keys(header).length === 0) {
    const jwt = await new SignJWT({ sub: 'agent' })
      .setProtectedHeader({ alg, kid: 'k1' })
      .sign(pair.privateKey);
    return { jwt, jwks: { keys: [jwk] } };
  }
  // What jose itself refuses to sign (a short RSA key, a crit header), signed by hand.
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg, kid: 'k1', ...header })}.${b64({ sub: 'agent' })}`;
  const sig = sign(
    alg === 'EdDSA' ? null : 'sha256',
    Buffer.from(input),
    alg === 'ES256' ? { key: pair.privateKey, dsaEncoding: 'ieee-p1363' } : pair.privateKey,
  );
  return { jwt: `${input}.${sig.toString('base64url')}`, jwks: { keys: [jwk] } };
}

describe('assertion keys', () => {
  it.each(ALGS)('verifies %s with a registered key', async (alg) => {
    const { jwt, jwks } = await signed(alg);
    expect(await keys.verify(jwt, { jwks }, ALGS)).toBe('verified');
  });

  it('refuses an altered payload', async () => {
    const { jwt, jwks } = await signed('ES256');
    const [h, , s] = jwt.split('.');
    const forged = `${h}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.${s}`;
    expect(await keys.verify(forged, { jwks }, ALGS)).toBe('bad_signature');
  });

  it('refuses an RSA key under 2048 bits', async () => {
    const { jwt, jwks } = await signed('RS256', 1024);
    expect(await keys.verify(jwt, { jwks }, ALGS)).not.toBe('verified');
  });

  it('refuses an algorithm that is not allowed, and a crit header', async () => {
    const es = await signed('ES256');
    expect(await keys.verify(es.jwt, { jwks: es.jwks }, ['RS256'])).toBe('bad_signature');
    const crit = await signed('ES256', undefined, { crit: ['exp'] });
    expect(await keys.verify(crit.jwt, { jwks: crit.jwks }, ALGS)).toBe('bad_signature');
  });
});
