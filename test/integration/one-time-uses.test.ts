// Single-use marks on a real Redis: the first claim wins, a second is a replay until the mark
// expires, kinds do not collide, and the value itself is never a key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OneTimeUses } from '../../src/domain/ports.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { createRedisOneTimeUses } from '../../src/store/redis-one-time-uses.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

const prefix = uniquePrefix('one-time');
let db: TestRedis;
let uses: OneTimeUses;
let now = 1_800_000_000;

beforeAll(async () => {
  db = await connectTestRedis(prefix);
  uses = createRedisOneTimeUses(db.redis, createKeyNames(prefix), () => now);
});

afterAll(async () => {
  await db?.close();
});

describe('one-time uses', () => {
  it('claims a value once; a second claim is a replay', async () => {
    expect(await uses.claim('client_assertion', 'jti-1', now + 60)).toBe(true);
    expect(await uses.claim('client_assertion', 'jti-1', now + 60)).toBe(false);
  });

  it('keeps kinds apart', async () => {
    expect(await uses.claim('client_assertion', 'jti-2', now + 60)).toBe(true);
    expect(await uses.claim('dpop_proof', 'jti-2', now + 60)).toBe(true);
    expect(await uses.claim('dpop_proof', 'jti-2', now + 60)).toBe(false);
  });

  it('keeps the mark for the value lifetime plus a margin, never the value itself', async () => {
    expect(await uses.claim('dpop_proof', 'secret-looking-jti', now + 100)).toBe(true);
    const keys = await db.redis.keys(`${prefix}once:*`);
    expect(keys.some((k) => k.includes('secret-looking-jti'))).toBe(false);
    const key = keys.find((k) => k.startsWith(`${prefix}once:dpop_proof:`)) as string;
    const ttls = await Promise.all(keys.map((k) => db.redis.ttl(k)));
    expect(Math.max(...ttls)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(105);
    expect(key).toBeDefined();
  });

  it('still holds a mark briefly for a value already past its lifetime', async () => {
    now += 1000;
    expect(await uses.claim('client_assertion', 'late', now - 10)).toBe(true);
    expect(await uses.claim('client_assertion', 'late', now - 10)).toBe(false);
  });
});
