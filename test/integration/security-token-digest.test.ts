// Own tokens checked by their issued digest: what the digest check refuses (a live jti with other bytes, however signed), and the signature fallback when no digest is stored.
import { generateKeyPairSync } from 'node:crypto';
import { Redis } from 'ioredis';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKeyNames } from '../../src/store/key-names.ts';
import { tokenDigestField } from '../../src/store/redis-grant-store.ts';
import { rawEs256Signer } from '../support/attack-tokens.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  isActive,
  mintToken,
  refresh,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const segment = (part: string) =>
  JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;
const b64u = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens known by their issued digest', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let redis: Redis;
  /** Signs with the broker's own active key (white-box, read from its Redis). */
  let ownKey: ReturnType<typeof rawEs256Signer>;
  /** Signs with a key the broker never had. */
  const otherKey = rawEs256Signer(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

  /** The whole evaluation answer, for its reason. */
  const evaluation = async (token: string) => {
    const res = await fetch(`${broker.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
      body: JSON.stringify({
        subject: { type: 'agent', id: agent.client_id, properties: { token } },
        action: { name: 'write' },
        resource: { type: 'resource', id: CRM },
        context: { ip: '203.0.113.9' },
      }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      decision: boolean;
      context: { reason_admin?: { code: string } };
    };
  };
  const evaluate = async (token: string) => (await evaluation(token)).decision;
  /** Calls counted for the grant in its calls window (its stored sum, `n`). */
  const callsCounted = async (token: string) => {
    const { grant_id } = segment(token.split('.')[1] as string) as { grant_id: string };
    return Number((await redis.hget(createKeyNames(broker.prefix).grantCalls(grant_id), 'n')) ?? 0);
  };
  /** A live token and its parts: the grant holds read and write, the token is fresh. */
  const live = async (taskId: string) => {
    const minted = await mintToken(broker.url, agent, [task(['read', 'write'], { taskId })]);
    const [h, p, s] = minted.access_token.split('.') as [string, string, string];
    return { minted, header: segment(h), payload: segment(p), signature: s };
  };
  const digestKey = (token: string) => {
    const { grant_id, jti } = segment(token.split('.')[1] as string) as {
      grant_id: string;
      jti: string;
    };
    return [
      createKeyNames(broker.prefix).grant(grant_id),
      tokenDigestField(grant_id, jti),
    ] as const;
  };

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url));
    redis = new Redis(broker.redisUrl, { maxRetriesPerRequest: 1 });
    const kid = broker.mandate.deps.keyRing.activeKid as string;
    const stored = JSON.parse((await redis.hget(`${broker.prefix}keys`, `k:${kid}`)) as string) as {
      private_jwk: JWK;
    };
    ownKey = rawEs256Signer(stored.private_jwk);
  });

  afterAll(async () => {
    redis?.disconnect();
    await broker?.close();
  });

  it('stores a digest with each issued token, and the token is active (control)', async () => {
    const { minted } = await live('T-digest-control');
    const [grantKey, field] = digestKey(minted.access_token);
    expect(await redis.hget(grantKey, field)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await isActive(broker.url, resource, minted.access_token)).toBe(true);
    expect(await evaluate(minted.access_token)).toBe(true);
  });

  it('refuses a live jti with another payload signed by another key under the same kid', async () => {
    const { header, payload } = await live('T-digest-other-key');
    const forged = await otherKey(header, { ...payload, scope: 'read write admin' });
    expect(await isActive(broker.url, resource, forged)).toBe(false);
    expect(await evaluate(forged)).toBe(false);
  });

  it('refuses a live jti with another payload even when signed with the broker key itself', async () => {
    // Only the digest can tell: the signature is valid. Before digests this token was active.
    const { header, payload } = await live('T-digest-own-key');
    const forged = await ownKey(header, { ...payload, exp: (payload.exp as number) + 60 });
    expect(await isActive(broker.url, resource, forged)).toBe(false);
    expect(await evaluate(forged)).toBe(false);
  });

  it('refuses the issued payload re-signed (another signature, same claims) and alg none', async () => {
    const { minted, header, payload } = await live('T-digest-resigned');
    const resigned = await ownKey(header, payload);
    expect(resigned).not.toBe(minted.access_token);
    expect(await isActive(broker.url, resource, resigned)).toBe(false);
    const [h, p] = minted.access_token.split('.') as [string, string];
    const none = `${b64u({ ...header, alg: 'none' })}.${p}.`;
    for (const token of [none, `${h}.${p}.`, `${h}.${p}`, minted.access_token.slice(0, -2)])
      expect(await isActive(broker.url, resource, token)).toBe(false);
    expect(await isActive(broker.url, resource, minted.access_token)).toBe(true);
  });

  it('refuses a revoked token though its digest matches', async () => {
    const { minted } = await live('T-digest-revoked');
    expect(await isActive(broker.url, resource, minted.access_token)).toBe(true);
    const res = await admin(broker.url, 'POST', '/admin/revocations', {
      jti: segment(minted.access_token.split('.')[1] as string).jti,
      reason: 'test',
    });
    expect(res.status).toBe(200);
    expect(await isActive(broker.url, resource, minted.access_token)).toBe(false);
    expect(await evaluate(minted.access_token)).toBe(false);
  });

  it('stores the digest of a refreshed token, and refuses the old payload under the new jti', async () => {
    const { minted, header } = await live('T-digest-refresh');
    const next = await refresh(broker.url, agent, minted.refresh_token);
    expect(next.status).toBe(200);
    const token = next.body.access_token;
    const [grantKey, field] = digestKey(token);
    expect(await redis.hget(grantKey, field)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await isActive(broker.url, resource, token)).toBe(true);
    const newPayload = segment(token.split('.')[1] as string);
    const forged = await ownKey(header, { ...newPayload, iat: (newPayload.iat as number) - 1 });
    expect(await isActive(broker.url, resource, forged)).toBe(false);
  });

  it('without a stored digest falls back to the signature: issued tokens stay active, forgeries do not', async () => {
    const { minted, header, payload } = await live('T-digest-missing');
    const [grantKey, field] = digestKey(minted.access_token);
    expect(await redis.hdel(grantKey, field)).toBe(1);
    // A fresh broker process would know nothing; this one must not have remembered the token either.
    expect(await isActive(broker.url, resource, minted.access_token)).toBe(true);
    expect(await evaluate(minted.access_token)).toBe(true);
    const otherSigned = await otherKey(header, { ...payload, scope: 'read write admin' });
    expect(await isActive(broker.url, resource, otherSigned)).toBe(false);
    expect(await evaluate(otherSigned)).toBe(false);
    // The signature is then the proof, as for any holder of the JWKS: a token the broker's own
    // key signed is its own, whatever Redis lost.
    const ownSigned = await ownKey(header, payload);
    expect(await isActive(broker.url, resource, ownSigned)).toBe(true);
  });

  it('proves a token not seen before within the evaluation read: one store call, counted once', async () => {
    const { minted } = await live('T-digest-one-read');
    const { broker: b } = broker.mandate.deps;
    const check = vi.spyOn(b.grants, 'check');
    const proving = vi.spyOn(b.evaluations, 'readProving');
    const read = vi.spyOn(b.evaluations, 'read');
    try {
      expect((await evaluation(minted.access_token)).decision).toBe(true);
      expect(check).not.toHaveBeenCalled();
      expect(proving).toHaveBeenCalledTimes(1);
      expect(read).not.toHaveBeenCalled();
    } finally {
      check.mockRestore();
      proving.mockRestore();
      read.mockRestore();
    }
    expect(await callsCounted(minted.access_token)).toBe(1);
  });

  it('refuses another payload under a live jti at the evaluation read without counting it', async () => {
    const { minted, header, payload } = await live('T-digest-eval-forged');
    for (const forged of [
      await ownKey(header, { ...payload, exp: (payload.exp as number) + 60 }),
      await ownKey(header, payload),
      await otherKey(header, { ...payload, scope: 'read write admin' }),
    ]) {
      const answer = await evaluation(forged);
      expect(answer.decision).toBe(false);
      expect(answer.context.reason_admin?.code).toBe('token_bad_signature');
    }
    expect(await callsCounted(minted.access_token)).toBe(0);
    expect((await evaluation(minted.access_token)).decision).toBe(true);
    expect(await callsCounted(minted.access_token)).toBe(1);
  });

  it('without a stored digest, proves a token not seen before by its signature and counts it once', async () => {
    const { minted, header, payload } = await live('T-digest-eval-missing');
    const [grantKey, field] = digestKey(minted.access_token);
    expect(await redis.hdel(grantKey, field)).toBe(1);
    const otherSigned = await otherKey(header, { ...payload, scope: 'read write admin' });
    expect((await evaluation(otherSigned)).context.reason_admin?.code).toBe('token_bad_signature');
    expect(await callsCounted(minted.access_token)).toBe(0);
    expect((await evaluation(minted.access_token)).decision).toBe(true);
    expect(await callsCounted(minted.access_token)).toBe(1);
  });
});
