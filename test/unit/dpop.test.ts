// The pure DPoP proof checks (domain/dpop.ts) and the broker's verifier and nonces (crypto/dpop-proofs.ts), on a fixed clock.
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { createDpopProofs } from '../../src/crypto/dpop-proofs.ts';
import {
  checkProofClaims,
  checkProofHeader,
  type DpopJwk,
  htuOf,
  proofTextRefusal,
  sameHtu,
  thumbprintInput,
} from '../../src/domain/dpop.ts';
import { ath, buildAttackProofs, makeProof, proofKey } from '../support/attack-proofs.ts';

const NOW = 1_800_000_000;
const URI = 'https://mandate.example.com/oauth/token';
const base = { method: 'POST', uri: URI, nowSec: NOW, windowSec: 65 };
const claims = { jti: 'j1', htm: 'POST', htu: URI, iat: NOW };
const EC = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

describe('checkProofHeader', () => {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: EC };

  it('accepts dpop+jwt with an allowed alg and a public key of its type', () => {
    expect(checkProofHeader(header)).toMatchObject({ ok: true, header: { alg: 'ES256' } });
  });

  it.each([
    ['typ missing', { ...header, typ: undefined }, 'wrong_type'],
    ['typ JWT', { ...header, typ: 'JWT' }, 'wrong_type'],
    ['alg none', { ...header, alg: 'none' }, 'bad_alg'],
    ['alg HS256', { ...header, alg: 'HS256' }, 'bad_alg'],
    ['alg ES384', { ...header, alg: 'ES384' }, 'bad_alg'],
    ['crit', { ...header, crit: ['x'] }, 'malformed'],
    ['no jwk', { typ: 'dpop+jwt', alg: 'ES256' }, 'bad_key'],
    ['private jwk', { ...header, jwk: { ...EC, d: 'AAAA' } }, 'bad_key'],
    ['symmetric jwk', { ...header, jwk: { kty: 'oct', k: 'AAAA' } }, 'bad_key'],
    ['jwk of another type', { ...header, alg: 'EdDSA' }, 'bad_key'],
    ['jwk as a string', { ...header, jwk: JSON.stringify(EC) }, 'bad_key'],
    [
      'rsa modulus too small',
      { ...header, alg: 'RS256', jwk: { kty: 'RSA', n: 'AQAB'.repeat(40), e: 'AQAB' } },
      'bad_key',
    ],
  ])('refuses %s', (_name, h, reason) => {
    expect(checkProofHeader(h as Record<string, unknown>)).toEqual({ ok: false, reason });
  });
});

describe('checkProofClaims', () => {
  it('accepts a proof for the request within the window', () => {
    expect(checkProofClaims(claims, base)).toEqual({ ok: true, jti: 'j1', iat: NOW });
    expect(checkProofClaims({ ...claims, iat: NOW - 65 }, base).ok).toBe(true);
    expect(checkProofClaims({ ...claims, iat: NOW + 65 }, base).ok).toBe(true);
  });

  it.each([
    ['htm of another method', { ...claims, htm: 'GET' }, 'wrong_method'],
    ['htm lower-case', { ...claims, htm: 'post' }, 'wrong_method'],
    [
      'htu of another path',
      { ...claims, htu: 'https://mandate.example.com/oauth/revoke' },
      'wrong_uri',
    ],
    [
      'htu of another host',
      { ...claims, htu: 'https://evil.example.com/oauth/token' },
      'wrong_uri',
    ],
    ['htu relative', { ...claims, htu: '/oauth/token' }, 'wrong_uri'],
    ['iat too old', { ...claims, iat: NOW - 66 }, 'stale'],
    ['iat ahead', { ...claims, iat: NOW + 66 }, 'early'],
    ['iat missing', { ...claims, iat: undefined }, 'bad_claims'],
    ['jti missing', { ...claims, jti: undefined }, 'bad_claims'],
    ['not an object', 'claims', 'bad_claims'],
  ])('refuses %s', (_name, c, reason) => {
    expect(checkProofClaims(c, base)).toEqual({ ok: false, reason });
  });

  it('compares htu without query and fragment, after normalising scheme, host and port', () => {
    for (const htu of [
      `${URI}?x=1`,
      `${URI}#f`,
      'HTTPS://Mandate.Example.com:443/oauth/token',
      'https://mandate.example.com/oauth/./token',
    ])
      expect(checkProofClaims({ ...claims, htu }, base).ok).toBe(true);
    expect(sameHtu('https://mandate.example.com:8443/oauth/token', URI)).toBe(false);
    expect(htuOf('https://user:pw@mandate.example.com/')).toBeUndefined();
    expect(htuOf('ftp://mandate.example.com/')).toBeUndefined();
  });

  it('wants ath when the proof comes with an access token', () => {
    const expected = { ...base, ath: ath('token') };
    expect(checkProofClaims({ ...claims, ath: ath('token') }, expected).ok).toBe(true);
    expect(checkProofClaims(claims, expected)).toEqual({ ok: false, reason: 'missing_ath' });
    expect(checkProofClaims({ ...claims, ath: ath('other') }, expected)).toEqual({
      ok: false,
      reason: 'wrong_ath',
    });
  });

  it('wants a current nonce when the server requires one', () => {
    const expected = { ...base, nonce: (n: string) => n === 'good' };
    expect(checkProofClaims(claims, expected)).toEqual({ ok: false, reason: 'nonce_required' });
    expect(checkProofClaims({ ...claims, nonce: 'old' }, expected)).toEqual({
      ok: false,
      reason: 'bad_nonce',
    });
    expect(checkProofClaims({ ...claims, nonce: 'good' }, expected).ok).toBe(true);
  });
});

describe('proof text and thumbprints', () => {
  it('refuses several proofs, oversized and empty ones unread', () => {
    expect(proofTextRefusal('a.b.c, d.e.f')).toEqual({ ok: false, reason: 'several_proofs' });
    expect(proofTextRefusal('a'.repeat(8193))).toEqual({ ok: false, reason: 'too_large' });
    expect(proofTextRefusal('  ')).toEqual({ ok: false, reason: 'malformed' });
    expect(proofTextRefusal('a.b.c')).toBeUndefined();
  });

  it('takes the RFC 7638 members in order (the RFC example thumbprint)', async () => {
    const rfc = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    } as DpopJwk;
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(thumbprintInput(rfc)).digest('base64url')).toBe(
      'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
    expect(
      createHash('sha256')
        .update(thumbprintInput(EC as DpopJwk))
        .digest('base64url'),
    ).toBe(await calculateJwkThumbprint(EC, 'sha256'));
  });
});

describe('createDpopProofs (signature, thumbprint, nonces)', () => {
  let nowMs = NOW * 1000;
  const proofs = createDpopProofs({ windowSec: 65, nonceSlotSec: 60 }, { nowMs: () => nowMs });
  proofs.useNonceSecret(Buffer.alloc(32, 7));
  const expect_ = { method: 'POST', uri: URI, requireNonce: false };

  it('verifies a valid proof and names its key by thumbprint', async () => {
    const key = await proofKey();
    const proof = await makeProof(key, { method: 'POST', url: URI, iat: NOW });
    expect(await proofs.verify(proof, expect_)).toMatchObject({ ok: true, jkt: key.jkt, iat: NOW });
  });

  it('refuses every proof of the attack catalogue', async () => {
    const key = await proofKey();
    const attacks = await buildAttackProofs(key, { method: 'POST', url: URI, iat: NOW });
    expect(attacks.length).toBeGreaterThan(40);
    const accepted: string[] = [];
    for (const { name, proof } of attacks) {
      const unread = proofTextRefusal(proof);
      if (unread) continue;
      if ((await proofs.verify(proof, expect_)).ok) accepted.push(name);
    }
    expect(accepted).toEqual([]);
  });

  it('checks ath against the access token it comes with', async () => {
    const key = await proofKey();
    const proof = await makeProof(key, { method: 'GET', url: URI, iat: NOW, accessToken: 'tok' });
    const resource = { method: 'GET', uri: URI, requireNonce: false };
    expect((await proofs.verify(proof, { ...resource, accessToken: 'tok' })).ok).toBe(true);
    expect(await proofs.verify(proof, { ...resource, accessToken: 'other' })).toEqual({
      ok: false,
      reason: 'wrong_ath',
    });
  });

  it('accepts a nonce of the current and the previous slot only', async () => {
    const key = await proofKey();
    const withNonce = async (nonce: string | undefined) =>
      proofs.verify(await makeProof(key, { method: 'POST', url: URI, iat: nowMs / 1000, nonce }), {
        ...expect_,
        requireNonce: true,
      });
    nowMs = NOW * 1000;
    const nonce = proofs.nonce();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await withNonce(undefined)).toEqual({ ok: false, reason: 'nonce_required' });
    expect((await withNonce(nonce)).ok).toBe(true);
    nowMs += 60_000;
    expect((await withNonce(nonce)).ok).toBe(true);
    nowMs += 60_000;
    expect(await withNonce(nonce)).toEqual({ ok: false, reason: 'bad_nonce' });
    expect(await withNonce('x'.repeat(43))).toEqual({ ok: false, reason: 'bad_nonce' });
    const other = createDpopProofs({ windowSec: 65, nonceSlotSec: 60 }, { nowMs: () => nowMs });
    other.useNonceSecret(Buffer.alloc(32, 7));
    // Another process with the same shared secret accepts this one's nonce.
    expect((await withNonce(other.nonce())).ok).toBe(true);
  });
});
