// The usage store's trailing windows on a real Redis: the Lua scripts count what the domain's
// windowCount counts, prune what left the window, and read agents' used actions in one round trip.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENIED_WINDOW, windowAt } from '../../src/domain/policy-facts.ts';
import type { EvaluationStore, UsageStore } from '../../src/domain/ports.ts';
import { createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { createRedisEvaluationStore } from '../../src/store/redis-evaluation-store.ts';
import { createRedisUsageStore } from '../../src/store/redis-usage-store.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

const prefix = uniquePrefix('usage-windows');
const H = 1_800_000_000 - (1_800_000_000 % 3600);
let redis: Redis;
let keys: KeyNames;
let usage: UsageStore;
let evaluations: EvaluationStore;

let db: TestRedis;

beforeAll(async () => {
  db = await connectTestRedis(prefix);
  redis = db.redis;
  keys = createKeyNames(prefix);
  usage = createRedisUsageStore(redis, keys);
  const decisions = createRedisDecisionLog(redis, keys, { maxRecords: 1000 });
  evaluations = createRedisEvaluationStore(redis, keys, decisions);
});

afterAll(async () => {
  await db?.close();
});

const deny = (grantId: string, nowSec: number) =>
  evaluations.recordOutcome({
    grantId,
    clientId: 'agent',
    action: 'read',
    allowed: false,
    newAction: false,
    step: undefined,
    expiresAt: H + 7200,
    nowSec,
  });

describe('usage store windows', () => {
  it('counts denials over the trailing hour in Lua as countersOf sums them, and prunes old buckets', async () => {
    const g = 'g_windows';
    const times = [H - 1, H - 1, H, H + 1800, H + 3599, H + 3600, H + 3659, H + 3660, H + 5000];
    const answers: number[] = [];
    for (const t of times) {
      answers.push(await deny(g, t));
      const [counted] = await usage.countersOf([g], t);
      expect(counted?.denied).toBe(answers.at(-1));
    }
    // At H+3600 the two at H-1 have left; at H+3660 the one at H too; at H+5000 nothing more
    // (the oldest bucket counted then starts at H+1380).
    expect(answers).toEqual([1, 2, 3, 4, 5, 4, 5, 5, 6]);
    const oldest = windowAt(DENIED_WINDOW, H + 5000).oldest;
    const stored = await redis.hgetall(keys.grantDenied(g));
    const buckets = Object.keys(stored).filter((f) => /^\d+$/.test(f));
    expect(buckets.every((b) => Number(b) >= oldest)).toBe(true);
    // The running sum the scripts keep is the sum of the buckets left, from the window's start on.
    expect(Number(stored.n)).toBe(buckets.reduce((n, b) => n + Number(stored[b]), 0));
    expect(Number(stored.o)).toBe(oldest);
    expect(await redis.ttl(keys.grantDenied(g))).toBeGreaterThan(3600);
  });

  it('answers which asked actions each agent used, in one pipeline', async () => {
    await redis.sadd(keys.usedActions('a1'), 'read', 'list');
    const sets = await usage.usedActionsOf([
      { clientId: 'a1', actions: ['read', 'write'] },
      { clientId: 'a2', actions: ['read'] },
      { clientId: 'a1', actions: [] },
    ]);
    expect(sets.map((s) => [...s].sort())).toEqual([['read'], [], []]);
  });
});
