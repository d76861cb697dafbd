// The key ring on a real Redis: signatures with every algorithm (ES256 and EdDSA on the event loop,
// RS256 on the thread pool) that jose accepts too, and the verified-token memory that lets a
// resource check one token again without its signature, never past expiry or key removal.
import type { Redis } from 'ioredis';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyRing, type SigningAlg } from '../../src/crypto/key-ring.ts';
import { tokenDigest } from '../../src/crypto/token-digest.ts';
import { type AccessTokenClaims, InvalidToken } from '../../src/domain/access-token.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { createRedisKeyStore } from '../../src/store/redis-key-store.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

const ISSUER = 'https://mandate.test';
const T0 = 1_800_000_000;

function claimsAt(nowSec: number, ttl = 300): AccessTokenClaims {
  return {
    iss: ISSUER,
    sub: 'agent-1',
    client_id: 'agent-1',
    aud: 'https://crm.example.com',
    iat: nowSec,
    exp: nowSec + ttl,
    jti: `g_1.${nowSec}`,
    grant_id: 'g_1',
    scope: 'read',
    authorization_details: [
      {
        type: 'agent_task',
        task_id: 'T-1',
        actions: ['read'],
        locations: ['https://crm.example.com'],
      },
    ],
  };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'verified';
  } catch (err) {
    if (err instanceof InvalidToken) return err.reason;
    throw err;
  }
}

describe('key ring', () => {
  let redis: Redis;
  let prefix: string;

  let db: TestRedis;

  beforeAll(async () => {
    db = await connectTestRedis(uniquePrefix('key-ring'));
    ({ redis, prefix } = db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const ring = (clock: { nowMs(): number }, keyPrefix: string, verifiedCacheEntries = 100) =>
    createKeyRing(
      createRedisKeyStore(redis, createKeyNames(keyPrefix)),
      {
        alg: 'ES256',
        issuer: ISSUER,
        clockToleranceSec: 5,
        rotateAfterSec: 0,
        verifiedCacheEntries,
      },
      clock,
    );

  for (const alg of ['ES256', 'EdDSA', 'RS256'] as SigningAlg[]) {
    it(`signs ${alg} tokens that it and jose verify, many at once`, async () => {
      const now = T0 * 1000;
      const keys = createKeyRing(
        createRedisKeyStore(redis, createKeyNames(`${prefix}alg-${alg}:`)),
        { alg, issuer: ISSUER, clockToleranceSec: 5, rotateAfterSec: 0, verifiedCacheEntries: 0 },
        { nowMs: () => now },
      );
      await keys.load();
      const tokens = await Promise.all(
        Array.from({ length: 20 }, (_, i) => keys.sign({ ...claimsAt(T0), jti: `g_1.${i}` })),
      );
      expect(new Set(tokens).size).toBe(20);
      const jwks = createLocalJWKSet(keys.jwks());
      for (const [i, token] of tokens.entries()) {
        expect((await keys.verify(token)).jti).toBe(`g_1.${i}`);
        const { payload, protectedHeader } = await jwtVerify(token, jwks, {
          issuer: ISSUER,
          algorithms: [alg],
          currentDate: new Date(now),
          typ: 'at+jwt',
        });
        expect(protectedHeader.kid).toBe(keys.activeKid);
        expect(payload.jti).toBe(`g_1.${i}`);
      }
      // A signature of one token does not carry over to another's claims.
      const [h, , s] = (tokens[0] as string).split('.') as [string, string, string];
      const other = (tokens[1] as string).split('.')[1];
      expect(await reason(keys.verify(`${h}.${other}.${s}`))).toBe('bad_signature');
    });
  }

  for (const entries of [100, 0]) {
    describe(entries ? 'with the verified-token memory' : 'verifying every call afresh', () => {
      it('signs and verifies, many at once', async () => {
        let now = T0 * 1000;
        const keys = ring({ nowMs: () => now }, `${prefix}a${entries}:`, entries);
        await keys.load();
        const tokens = await Promise.all(
          Array.from({ length: 50 }, (_, i) => keys.sign(claimsAt(T0 + i))),
        );
        expect(new Set(tokens).size).toBe(50);
        now = (T0 + 49) * 1000;
        const verified = await Promise.all(tokens.map((t) => keys.verify(t)));
        expect(verified.map((c) => c.iat)).toEqual(Array.from({ length: 50 }, (_, i) => T0 + i));
        // Asked again: the same answers; with the memory, the same claims object, even when the
        // token arrives as a slice of a larger request body (the memory keeps its own copy).
        const body = `token=${tokens[7]}&token_type_hint=access_token`;
        const again = await keys.verify(body.slice(6, 6 + (tokens[7] as string).length));
        expect(again.iat).toBe(T0 + 7);
        if (entries) expect(again).toBe(verified[7]);
        else expect(again).not.toBe(verified[7]);
      });

      it('refuses a remembered token once it expires', async () => {
        let now = T0 * 1000;
        const keys = ring({ nowMs: () => now }, `${prefix}b${entries}:`, entries);
        await keys.load();
        const token = await keys.sign(claimsAt(T0, 60));
        expect(await reason(keys.verify(token))).toBe('verified');
        now = (T0 + 60 + 6) * 1000;
        expect(await reason(keys.verify(token))).toBe('expired');
      });

      it('never takes another token for a remembered one', async () => {
        const now = T0 * 1000;
        const keys = ring({ nowMs: () => now }, `${prefix}c${entries}:`, entries);
        await keys.load();
        const token = await keys.sign(claimsAt(T0));
        await keys.verify(token);
        const [h, p, s] = token.split('.') as [string, string, string];
        const forged = JSON.parse(Buffer.from(p, 'base64url').toString()) as AccessTokenClaims;
        forged.scope = 'read write';
        const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`;
        expect(await reason(keys.verify(tampered))).toBe('bad_signature');
        // One bit of the signature's bytes flipped (editing its text's last characters could leave
        // the bytes unchanged: base64url's last character carries padding bits).
        const bytes = Buffer.from(s, 'base64url');
        bytes[10] = (bytes[10] as number) ^ 1;
        const flipped = `${h}.${p}.${bytes.toString('base64url')}`;
        expect(await reason(keys.verify(flipped))).toBe('bad_signature');
        expect(await reason(keys.verify(`${token} `))).toBe('malformed');
      });

      it('hands out claims nobody can change', async () => {
        const now = T0 * 1000;
        const keys = ring({ nowMs: () => now }, `${prefix}d${entries}:`, entries);
        await keys.load();
        const token = await keys.sign(claimsAt(T0));
        const first = await keys.verify(token);
        expect(() => {
          (first.authorization_details[0] as { actions: string[] }).actions.push('delete');
        }).toThrow(TypeError);
        expect((await keys.verify(token)).authorization_details[0]?.actions).toEqual(['read']);
      });
    });
  }

  it('forgets tokens of a key that left the ring', async () => {
    let now = T0 * 1000;
    const keyPrefix = `${prefix}e:`;
    const keys = ring({ nowMs: () => now }, keyPrefix);
    await keys.load();
    const token = await keys.sign(claimsAt(T0, 300));
    expect(await reason(keys.verify(token))).toBe('verified');
    await keys.rotate();
    // Retired keys verify until their tokens could have expired ...
    expect(await reason(keys.verify(token))).toBe('verified');
    // ... then leave the ring, and what they signed is unknown, remembered or not.
    now = (T0 + 2000) * 1000;
    await keys.maintain();
    const later = await keys.sign(claimsAt(T0 + 2000));
    expect(await reason(keys.verify(later))).toBe('verified');
    expect(await reason(keys.verify(token))).toBe('unknown_key');
  });

  it('keeps at most the configured number of tokens and still verifies the rest', async () => {
    const now = T0 * 1000;
    const keys = ring({ nowMs: () => now }, `${prefix}f:`, 3);
    await keys.load();
    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) => keys.sign({ ...claimsAt(T0), jti: `g_1.${i}` })),
    );
    for (const t of tokens) await keys.verify(t);
    for (const t of tokens) expect((await keys.verify(t)).jti).toBe(`g_1.${tokens.indexOf(t)}`);
  });
  describe('inspect and confirmIssued (own tokens by their issued digest)', () => {
    it('takes the digest as the proof: no signature check when it matches, refusal when it differs', async () => {
      const now = T0 * 1000;
      const keys = ring({ nowMs: () => now }, `${prefix}digest:`, 100);
      await keys.load();
      const token = await keys.sign(claimsAt(T0));
      const [h, p, s] = token.split('.') as [string, string, string];
      // The same claims under a broken signature: only the digest can vouch for these bytes, so
      // a match proves the signature was never checked (that is the point: a hash, not an ECDSA verify).
      const broken = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
      const read = await keys.inspect(broken);
      expect(read.known).toBe(false);
      expect((await keys.confirmIssued(broken, read, tokenDigest(broken))).jti).toBe(`g_1.${T0}`);
      // Confirmed once, remembered: the next check of the same bytes needs no store read.
      expect((await keys.inspect(broken)).known).toBe(true);
      // Another digest refuses the token outright, however good its signature.
      const fresh = await keys.inspect(token);
      expect(await reason(keys.confirmIssued(token, fresh, tokenDigest(broken)))).toBe(
        'bad_signature',
      );
      // No digest stored: the signature decides.
      const other = await keys.sign({ ...claimsAt(T0), jti: 'g_1.other' });
      const [, p2] = other.split('.') as [string, string, string];
      const spliced = `${h}.${p2}.${s}`;
      expect(
        await reason(keys.confirmIssued(spliced, await keys.inspect(spliced), undefined)),
      ).toBe('bad_signature');
      expect((await keys.confirmIssued(other, await keys.inspect(other), undefined)).jti).toBe(
        'g_1.other',
      );
      // What inspect read of one token proves nothing for another.
      expect(await reason(keys.confirmIssued(token, read, tokenDigest(token)))).toBe(
        'bad_signature',
      );
    });

    it('checks form, header, issuer and times before any proof', async () => {
      const now = T0 * 1000;
      const keys = ring({ nowMs: () => now }, `${prefix}inspect:`, 0);
      await keys.load();
      const token = await keys.sign(claimsAt(T0));
      const [h, p, s] = token.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      expect(await reason(keys.inspect(`${enc({ ...header, alg: 'none' })}.${p}.`))).toBe(
        'malformed',
      );
      expect(await reason(keys.inspect(`${enc({ ...header, alg: 'none' })}.${p}.${s}`))).toBe(
        'bad_signature',
      );
      expect(await reason(keys.inspect(`${enc({ ...header, kid: 'nope' })}.${p}.${s}`))).toBe(
        'unknown_key',
      );
      expect(
        await reason(keys.inspect(`${h}.${enc({ ...payload, iss: 'https://evil' })}.${s}`)),
      ).toBe('wrong_issuer');
      expect(await reason(keys.inspect(`${h}.${enc({ ...payload, exp: T0 - 60 })}.${s}`))).toBe(
        'expired',
      );
      expect(await reason(keys.inspect(`${h}.${p}`))).toBe('malformed');
    });
  });
});
