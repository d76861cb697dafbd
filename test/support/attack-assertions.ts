// Malicious client assertions and workload tokens for the security suite: every way a JWT assertion may arrive wrong.
import { createHmac, randomUUID } from 'node:crypto';
import { generateKeyPair } from 'jose';
import type { LocalIssuer } from './local-issuer.ts';

export interface AttackAssertion {
  readonly name: string;
  readonly assertion: string;
}

const b64 = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS with any header and payload, signed (or not) as `sign` says. */
function compact(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  sign: (input: string) => string = () => '',
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input)}`;
}

export interface AssertionAttackOptions {
  /** The registered private_key_jwt client's key. */
  readonly key: LocalIssuer;
  readonly clientId: string;
  /** Mandate's issuer (the right audience). */
  readonly audience: string;
  /** Where `jku` / `x5u` point: a listener that must never be fetched. */
  readonly keyUrl: string;
}

/**
 * private_key_jwt assertions that must each be `invalid_client`: malformed, unsigned, HMAC with
 * the public key, another key under the right kid, expired, too long-lived, not yet valid, for
 * another audience, another subject, an unknown client, without jti, with `jku`/`crit`.
 */
export async function attackAssertions(o: AssertionAttackOptions): Promise<AttackAssertion[]> {
  const now = Math.floor(Date.now() / 1000);
  const base = {
    iss: o.clientId,
    sub: o.clientId,
    aud: o.audience,
    iat: now,
    exp: now + 60,
  };
  const claims = (over: Record<string, unknown>) => ({ ...base, jti: randomUUID(), ...over });
  const signed = (over: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    o.key.mint(claims(over), { header });
  const attacker = await generateKeyPair('ES256');
  const hmacWithPublicKey = (input: string) =>
    createHmac('sha256', JSON.stringify(o.key.publicJwk)).update(input).digest('base64url');
  const { exp: _exp, ...noExp } = base;
  return [
    { name: 'malformed:not-a-jwt', assertion: 'not-a-jwt' },
    { name: 'malformed:two-segments', assertion: `${b64({ alg: 'ES256' })}.${b64(base)}` },
    { name: 'malformed:garbage-segments', assertion: '!!!.???.***' },
    { name: 'malformed:json-array-header', assertion: `${b64([1])}.${b64(base)}.sig` },
    { name: 'malformed:oversized', assertion: `${'a'.repeat(9000)}.b.c` },
    { name: 'alg:none', assertion: compact({ alg: 'none' }, claims({})) },
    { name: 'alg:none-uppercase', assertion: compact({ alg: 'NONE', kid: o.key.kid }, claims({})) },
    {
      name: 'alg:HS256-with-public-key',
      assertion: compact({ alg: 'HS256', kid: o.key.kid }, claims({}), hmacWithPublicKey),
    },
    {
      name: 'alg:RS256-on-an-EC-key',
      assertion: compact({ alg: 'RS256', kid: o.key.kid }, claims({}), () => 'AAAA'),
    },
    {
      name: 'signature:attacker-key-right-kid',
      assertion: await o.key.mint(claims({}), { key: attacker.privateKey }),
    },
    {
      name: 'signature:stripped',
      assertion: `${(await signed({})).split('.').slice(0, 2).join('.')}.`,
    },
    { name: 'claims:expired', assertion: await signed({ iat: now - 7200, exp: now - 3600 }) },
    { name: 'claims:exp-too-far-ahead', assertion: await signed({ exp: now + 3600 }) },
    { name: 'claims:no-exp', assertion: await compactWithoutExp(o, noExp) },
    { name: 'claims:nbf-future', assertion: await signed({ nbf: now + 3600 }) },
    { name: 'claims:wrong-audience', assertion: await signed({ aud: 'https://evil.example.com' }) },
    { name: 'claims:sub-not-iss', assertion: await signed({ sub: 'someone-else' }) },
    { name: 'claims:unknown-client', assertion: await signed({ iss: 'nobody', sub: 'nobody' }) },
    { name: 'claims:no-jti', assertion: await o.key.mint({ ...base }) },
    {
      name: 'claims:untrusted-issuer-url',
      assertion: await signed({ iss: 'https://evil.example.com', sub: 'x' }),
    },
    // Signed by the attacker, whose keys `jku` / `x5u` point at: never fetched, never trusted.
    {
      name: 'header:jku',
      assertion: await o.key.mint(claims({}), {
        header: { jku: o.keyUrl },
        key: attacker.privateKey,
      }),
    },
    {
      name: 'header:x5u',
      assertion: await o.key.mint(claims({}), {
        header: { x5u: o.keyUrl },
        key: attacker.privateKey,
      }),
    },
    { name: 'header:crit', assertion: await withCriticalExtension(o, claims({})) },
  ];
}

/** Signed with the client's key, naming a JWS extension the verifier must understand (it does not). */
async function withCriticalExtension(
  o: AssertionAttackOptions,
  claims: Record<string, unknown>,
): Promise<string> {
  const { CompactSign } = await import('jose');
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'ES256', kid: o.key.kid, crit: ['x-ext'], 'x-ext': 1 })
    .sign(o.key.privateKey, { crit: { 'x-ext': true } });
}

/** Signed with the client's key but with no `exp` at all (the minter always sets one). */
async function compactWithoutExp(
  o: AssertionAttackOptions,
  claims: Record<string, unknown>,
): Promise<string> {
  const { SignJWT } = await import('jose');
  return new SignJWT({ ...claims, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: o.key.kid })
    .sign(o.key.privateKey);
}

/**
 * Workload tokens that must be refused as a jwt-bearer grant (`invalid_grant`): expired, for
 * another audience, from an untrusted issuer, signed by another key, unsigned, unmapped subject.
 */
export async function attackWorkloadTokens(o: {
  issuer: LocalIssuer;
  audience: string;
  mappedSub: string;
}): Promise<AttackAssertion[]> {
  const now = Math.floor(Date.now() / 1000);
  const good = { sub: o.mappedSub, aud: o.audience };
  const attacker = await generateKeyPair('ES256');
  return [
    {
      name: 'workload:expired',
      assertion: await o.issuer.mint({ ...good, iat: now - 7200, exp: now - 3600 }),
    },
    {
      name: 'workload:wrong-audience',
      assertion: await o.issuer.mint({ ...good, aud: 'https://elsewhere.example.com' }),
    },
    {
      name: 'workload:unknown-issuer',
      assertion: await o.issuer.mint({ ...good, iss: 'https://unknown.example.com' }),
    },
    {
      name: 'workload:attacker-key',
      assertion: await o.issuer.mint(good, { key: attacker.privateKey }),
    },
    {
      name: 'workload:alg-none',
      assertion: compact(
        { alg: 'none' },
        { ...good, iss: o.issuer.issuer, iat: now, exp: now + 60 },
      ),
    },
    {
      name: 'workload:unmapped-subject',
      assertion: await o.issuer.mint({ ...good, sub: 'system:serviceaccount:prod:intruder' }),
    },
    { name: 'workload:malformed', assertion: 'eyJhbGciOiJFUzI1NiJ9.e30' },
  ];
}
