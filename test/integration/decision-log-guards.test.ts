// Guarded decision records on a real Redis (see EvaluationGuard), committed by the evaluation store
// through the decision log's append: appended only while their guard holds, after the rest of their
// batch, with the hash chain unbroken when one is refused.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { DecisionInput } from '../../src/domain/decision-record.ts';
import { StateChanged } from '../../src/domain/errors.ts';
import type { DecisionLog, EvaluationGuard, EvaluationStore } from '../../src/domain/ports.ts';
import { createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { createRedisEvaluationStore } from '../../src/store/redis-evaluation-store.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

describe('decision log guards', () => {
  let redis: Redis;
  let keys: KeyNames;
  let log: DecisionLog;
  let evaluations: EvaluationStore;
  let appends = 0;
  const prefix = uniquePrefix('log-guards');
  const input = (grant_id: string) => ({
    kind: 'mint' as const,
    outcome: 'permit',
    reasons: [],
    grant_id,
    inputs: {},
  });
  // A guard on a grant that does not exist never holds.
  const guard: EvaluationGuard = {
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
  const guarded = (grantId = 'g_absent') =>
    evaluations.commit(
      { ...input(grantId), kind: 'evaluation' },
      { ...guard, grantId, jti: `${grantId}.x` },
    );

  let db: TestRedis;

  beforeAll(async () => {
    db = await connectTestRedis(prefix);
    redis = db.redis;
    keys = createKeyNames(prefix);
    const conditional = createRedisDecisionLog(redis, keys, { maxRecords: 10_000 });
    log = conditional;
    evaluations = createRedisEvaluationStore(redis, keys, conditional);
    // Counts the append script's calls.
    const scripted = redis as unknown as {
      mandateAppendDecisions: (...args: string[]) => Promise<number>;
    };
    const append = scripted.mandateAppendDecisions.bind(redis);
    scripted.mandateAppendDecisions = (...args: string[]) => {
      appends += 1;
      return append(...args);
    };
  });
  afterAll(async () => {
    await db?.close();
  });

  it('appends guarded records after the rest of their batch, and one whose guard fails stops only itself', async () => {
    let followed = false;
    const refused = guarded();
    const after = log.record(input('g_after'));
    const withFollower = log.record(input('g_follower'), {
      followedBy: async () => {
        followed = true;
      },
    });
    const second = guarded();
    await expect(refused).rejects.toBeInstanceOf(StateChanged);
    await expect(second).rejects.toBeInstanceOf(StateChanged);
    const [a, f] = await Promise.all([after, withFollower]);
    expect(followed).toBe(true);
    expect(f.seq).toBe(a.seq + 1);
    // Nothing was counted or stored for the refused records, and the chain goes on unbroken.
    expect(await redis.exists(keys.grantCalls('g_absent'))).toBe(0);
    const next = await log.record(input('g_next'));
    expect(next).toMatchObject({ seq: f.seq + 1, prev: f.hash });
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('refuses the stale records of one grant together, and seals the others again', async () => {
    const before = appends;
    const stale = Array.from({ length: 200 }, () =>
      guarded().then(
        () => 'appended',
        (err) => (err instanceof StateChanged ? 'refused' : String(err)),
      ),
    );
    const other = Array.from({ length: 3 }, () =>
      guarded('g_other').catch((err) => (err instanceof StateChanged ? 'refused' : String(err))),
    );
    const plain = log.record(input('g_plain'));
    expect(new Set(await Promise.all(stale))).toEqual(new Set(['refused']));
    expect(new Set(await Promise.all(other))).toEqual(new Set(['refused']));
    await plain;
    // One append for the batch, one more for g_other's records sealed again: not one per record.
    expect(appends - before).toBeLessThanOrEqual(3);
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('keeps the chain when a refusal follows a record whose text cjson cannot read', async () => {
    for (const context of [
      { note: '\ud800' },
      JSON.parse(`${'['.repeat(1100)}${']'.repeat(1100)}`),
    ]) {
      const plain = log.record({
        kind: 'evaluation',
        outcome: 'deny',
        reasons: [],
        grant_id: 'g_x',
        inputs: { context },
      });
      const refused = guarded();
      await expect(plain).resolves.toMatchObject({ grant_id: 'g_x' });
      await expect(refused).rejects.toBeInstanceOf(StateChanged);
    }
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it("takes a guard only for the record's own grant, and never with a follower", async () => {
    await expect(evaluations.commit(input('g_other'), guard)).rejects.toThrow(TypeError);
    // A guarded record is made only by the evaluation store's commit, which has no place for a
    // follower, and the log's own record takes no guard (checked by the type checker).
    expectTypeOf<Parameters<EvaluationStore['commit']>>().toEqualTypeOf<
      [input: DecisionInput, guard?: EvaluationGuard]
    >();
    expectTypeOf<NonNullable<Parameters<DecisionLog['record']>[1]>>().not.toHaveProperty('guard');
  });
});
