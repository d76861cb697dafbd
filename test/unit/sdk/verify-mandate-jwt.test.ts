// verifyMandateJwt beside jose's jwtVerify: for every token, the same claims or the same error (class, code, claim).
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMandateJwt } from '../../../src/client/verify-mandate-jwt.ts';

const ISS = 'https://mandate.example.com';
const AUD = 'https://mcp.example.com/mcp';
const NOW = new Date('2026-12-05T12:00:00Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);
const CHECKS = {
  issuer: ISS,
  audience: AUD,
  typ: 'at+jwt',
  algorithms: ['ES256', 'ES384', 'EdDSA'],
  currentDate: NOW,
};

type Key = CryptoKey;
let es256: { priv: Key; other: Key };
let es384: Key;
let ed: Key;
let getKey: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  const a = await generateKeyPair('ES256', { extractable: true });
  const b = await generateKeyPair('ES256', { extractable: true });
  const c = await generateKeyPair('ES384', { extractable: true });
  const d = await generateKeyPair('EdDSA', { extractable: true });
  es256 = { priv: a.privateKey, other: b.privateKey };
  es384 = c.privateKey;
  ed = d.privateKey;
  getKey = createLocalJWKSet({
    keys: [
      { ...(await exportJWK(a.publicKey)), kid: 'es256', alg: 'ES256' },
      { ...(await exportJWK(c.publicKey)), kid: 'es384', alg: 'ES384' },
      { ...(await exportJWK(d.publicKey)), kid: 'ed', alg: 'EdDSA' },
    ],
  });
});

const good = { iss: ISS, aud: AUD, sub: 'agent-1', iat: NOW_SEC - 10, exp: NOW_SEC + 300 };

async function sign(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
  key: Key = es256.priv,
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'es256', typ: 'at+jwt', ...header } as never)
    .sign(key);
}

/** What a verifier made of a token: its claims, or its error's class, code and claim. */
async function outcome(run: () => Promise<unknown>) {
  try {
    return { ok: await run() };
  } catch (err) {
    const e = err as { name: string; code?: string; claim?: string };
    return { error: e.name, code: e.code, claim: e.claim };
  }
}

async function expectSameAsJose(token: string) {
  const ours = await outcome(() => verifyMandateJwt(token, getKey, CHECKS));
  const jose = await outcome(async () => (await jwtVerify(token, getKey, CHECKS)).payload);
  expect(ours).toEqual(jose);
  return ours;
}

describe('verifyMandateJwt agrees with jose', () => {
  it('a good ES256 token: the same claims', async () => {
    expect((await expectSameAsJose(await sign(good))).ok).toEqual(good);
    expect((await expectSameAsJose(await sign({ ...good, aud: ['x', AUD] }))).ok).toBeTruthy();
    expect(
      (await expectSameAsJose(await sign(good, { typ: 'application/at+jwt' }))).ok,
    ).toBeTruthy();
  });

  it.each([
    ['wrong issuer', { ...good, iss: 'https://evil.example.com' }, {}],
    ['no issuer', { ...good, iss: undefined }, {}],
    ['wrong audience', { ...good, aud: 'https://other.example.com' }, {}],
    ['no audience', { ...good, aud: undefined }, {}],
    ['expired', { ...good, exp: NOW_SEC }, {}],
    ['not yet valid', { ...good, nbf: NOW_SEC + 60 }, {}],
    ['iat not a number', { ...good, iat: 'yesterday' }, {}],
    ['exp not a number', { ...good, exp: '2030' }, {}],
    ['another typ', good, { typ: 'JWT' }],
    ['no typ', good, { typ: undefined }],
    ['an unknown kid', good, { kid: 'nope' }],
  ])('%s: the same refusal', async (_name, claims, header) => {
    const res = await expectSameAsJose(await sign(claims as Record<string, unknown>, header));
    expect(res.error).toBeDefined();
  });

  it('a crit header (signed by hand: jose will not sign one it does not know): the same refusal', async () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${enc({ alg: 'ES256', kid: 'es256', typ: 'at+jwt', crit: ['x'], x: 1 })}.${enc(good)}`;
    const sig = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      es256.priv,
      Buffer.from(input),
    );
    const res = await expectSameAsJose(`${input}.${Buffer.from(sig).toString('base64url')}`);
    expect(res.code).toBe('ERR_JOSE_NOT_SUPPORTED');
  });

  it('a signature by another key, a tampered payload, a cut signature: the same refusal', async () => {
    expect((await expectSameAsJose(await sign(good, {}, es256.other))).error).toBeDefined();
    const [h, , s] = (await sign(good)).split('.');
    const forged = Buffer.from(JSON.stringify({ ...good, sub: 'admin' })).toString('base64url');
    expect((await expectSameAsJose(`${h}.${forged}.${s}`)).error).toBeDefined();
    expect((await expectSameAsJose(`${h}.${forged}.${s?.slice(0, 40)}`)).error).toBeDefined();
    expect((await expectSameAsJose('not.a.jwt')).error).toBeDefined();
    expect((await expectSameAsJose('two.parts')).error).toBeDefined();
  });

  it('other algorithms go to jose whole', async () => {
    const t384 = await new SignJWT(good)
      .setProtectedHeader({ alg: 'ES384', kid: 'es384', typ: 'at+jwt' })
      .sign(es384);
    expect((await expectSameAsJose(t384)).ok).toEqual(good);
    const ted = await new SignJWT(good)
      .setProtectedHeader({ alg: 'EdDSA', kid: 'ed', typ: 'at+jwt' })
      .sign(ed);
    expect((await expectSameAsJose(ted)).ok).toEqual(good);
    // An ES256 header naming the ES384 key: the curve does not fit, jose refuses it.
    const mixed = await sign(good, { kid: 'es384' });
    expect((await expectSameAsJose(mixed)).error).toBeDefined();
  });
});
