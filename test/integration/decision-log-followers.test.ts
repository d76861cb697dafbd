// A decision record's `followedBy` write on a real Redis: started right behind the record's append
// (so Redis runs it after the record), and the record settles only once both have.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionLog } from '../../src/domain/ports.ts';
import { createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

describe('decision log followers', () => {
  let redis: Redis;
  let keys: KeyNames;
  let log: DecisionLog;
  const prefix = uniquePrefix('log-followers');
  const input = (grant_id: string) => ({
    kind: 'mint' as const,
    outcome: 'permit',
    reasons: [],
    grant_id,
    inputs: {},
  });

  let db: TestRedis;

  beforeAll(async () => {
    db = await connectTestRedis(prefix);
    redis = db.redis;
    keys = createKeyNames(prefix);
    log = createRedisDecisionLog(redis, keys, { maxRecords: 1000 });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('starts the follower only once the append is sent, so Redis runs it after the record', async () => {
    let started = false;
    let seen: string | null = null;
    const recorded = log.record(input('g_one'), {
      followedBy: async () => {
        started = true;
        // A read queued behind the append on the same connection sees the record indexed under its grant.
        seen = await redis.hget(keys.grant('g_one'), 'h');
      },
    });
    expect(started).toBe(false);
    const record = await recorded;
    expect(started).toBe(true);
    expect(seen).toMatch(/^\d+-\d+$/);
    expect(record.grant_id).toBe('g_one');
  });

  it('rejects the record when its follower fails, though the record itself landed', async () => {
    const before = await redis.xlen(keys.decisions);
    await expect(
      log.record(input('g_two'), {
        followedBy: () => Promise.reject(new Error('follower failed')),
      }),
    ).rejects.toThrow('follower failed');
    expect(await redis.xlen(keys.decisions)).toBe(before + 1);
  });

  it('resolves records without followers in the same batch as usual', async () => {
    const [plain, followed] = await Promise.all([
      log.record(input('g_three')),
      log.record(input('g_four'), { followedBy: () => redis.ping() }),
    ]);
    expect(followed.seq).toBe(plain.seq + 1);
    expect(followed.prev).toBe(plain.hash);
  });
});
