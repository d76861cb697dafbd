// A decision record's `followedBy` write on a real Redis: started right behind the record's append
// (so Redis runs it after the record), and the record settles only once both have.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StateChanged } from '../../src/domain/errors.ts';
import type { DecisionLog } from '../../src/domain/ports.ts';
import { type KeyNames, createKeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { deleteKeysUnder } from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';

describe('decision log followers', () => {
  let redis: Redis;
  let keys: KeyNames;
  let log: DecisionLog;
  const prefix = uniquePrefix('log-followers');
  const redisUrl = () => inject('redisUrl');
  const input = (grant_id: string) => ({ kind: 'mint' as const, outcome: 'permit', reasons: [], grant_id, inputs: {} });

  beforeAll(async () => {
    redis = new Redis(redisUrl(), { lazyConnect: true });
    await redis.connect();
    keys = createKeyNames(prefix);
    log = createRedisDecisionLog(redis, keys, { maxRecords: 1000 });
  });
  afterAll(async () => {
    redis?.disconnect();
    await deleteKeysUnder(redisUrl(), prefix);
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
    await expect(log.record(input('g_two'), { followedBy: () => Promise.reject(new Error('follower failed')) })).rejects.toThrow(
      'follower failed',
    );
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

  it('appends guarded records after the rest of their batch, and one whose guard fails stops only itself', async () => {
    // A guard on a grant that does not exist never holds (see EvaluationGuard).
    const guard = {
      grantId: 'g_absent',
      jti: 'g_absent.x',
      clientId: 'agent',
      action: 'read',
      expiresAt: 1,
      policyVersion: 1,
      digest: 'x',
      calls: { min: 1 },
      denied: { min: 0 },
      nowSec: Math.floor(Date.now() / 1000),
    };
    let followed = false;
    const refused = log.record({ ...input('g_absent'), kind: 'evaluation' }, { guard });
    const after = log.record(input('g_after'));
    const withFollower = log.record(input('g_follower'), {
      followedBy: async () => {
        followed = true;
      },
    });
    const second = log.record({ ...input('g_absent'), kind: 'evaluation' }, { guard });
    await expect(refused).rejects.toBeInstanceOf(StateChanged);
    await expect(second).rejects.toBeInstanceOf(StateChanged);
    const [a, f] = await Promise.all([after, withFollower]);
    expect(followed).toBe(true);
    expect(f.seq).toBe(a.seq + 1);
    // Nothing was counted or stored for the refused records, and the chain goes on unbroken.
    expect(await redis.exists(keys.grantCalls('g_absent', Math.floor(guard.nowSec / 60)))).toBe(0);
    const next = await log.record(input('g_next'));
    expect(next).toMatchObject({ seq: f.seq + 1, prev: f.hash });
    expect(await log.verify()).toMatchObject({ ok: true });
  });
});
