// The decision log's pipelined appends on a private Redis: batches sent before the one ahead is answered land in order, and one sealed behind a failed batch never lands after a gap, nor does its grant.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchGrant } from '../../scripts/bench/seed-grant.ts';
import { createChainVerifier, type DecisionRecord } from '../../src/domain/decision-record.ts';
import { StoreUnavailable } from '../../src/domain/errors.ts';
import type { DecisionLog, GrantStore } from '../../src/domain/ports.ts';
import { createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog, sha256 } from '../../src/store/redis-decision-log.ts';
import { createRedisGrantStore } from '../../src/store/redis-grant-store.ts';
import { RedisServer } from '../support/redis-server.ts';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('decision log: pipelined appends', () => {
  let server: RedisServer;
  let redis: Redis;
  let pauser: Redis;
  let keys: KeyNames;
  let log: DecisionLog;
  let grants: GrantStore;
  /** Append calls sent and not yet answered, and the most there were at once. */
  let outstanding = 0;
  let mostOutstanding = 0;

  const mint = (grantId: string) => ({
    kind: 'mint' as const,
    outcome: 'permit',
    reasons: ['test'],
    client_id: 'agent',
    grant_id: grantId,
    inputs: {},
  });
  /** A mint record and its grant right behind it, as mint-token.ts stores them. */
  const mintWithGrant = (grantId: string) => {
    const now = Math.floor(Date.now() / 1000);
    return log.record(mint(grantId), {
      followedBy: () =>
        grants.create(
          { ...benchGrant(0, 'agent', now), id: grantId },
          { jti: `${grantId}.t`, exp: now + 300 },
          'rh',
        ),
    });
  };
  const stream = async (): Promise<DecisionRecord[]> =>
    (await redis.xrange(keys.decisions, '-', '+')).map(
      ([, fields]) => JSON.parse(fields[1] ?? '{}') as DecisionRecord,
    );
  /** Holds every write command Redis receives for `ms` (they run, in order, afterwards). */
  const holdWrites = (ms: number) => pauser.call('CLIENT', 'PAUSE', String(ms), 'WRITE');

  beforeAll(async () => {
    server = await RedisServer.start({ appendonly: false });
    redis = new Redis(server.url);
    pauser = new Redis(server.url);
    keys = createKeyNames('pipeline:');
    log = createRedisDecisionLog(redis, keys, { maxRecords: 10_000 });
    grants = createRedisGrantStore(redis, keys);
    const scripted = redis as unknown as { mandateAppendDecisions: (...a: string[]) => unknown };
    const append = scripted.mandateAppendDecisions.bind(redis);
    scripted.mandateAppendDecisions = (...args: string[]) => {
      outstanding += 1;
      mostOutstanding = Math.max(mostOutstanding, outstanding);
      const sent = append(...args) as Promise<unknown>;
      return sent.finally(() => {
        outstanding -= 1;
      });
    };
  });

  afterAll(async () => {
    redis?.disconnect();
    pauser?.disconnect();
    await server?.stop();
  });

  it('sends the next turn’s batch before the one ahead is answered, and both land in order', async () => {
    await log.record(mint('g_warm'));
    mostOutstanding = 0;
    await holdWrites(200);
    const first = mintWithGrant('g_p1');
    await nextTurn();
    const second = mintWithGrant('g_p2');
    const [a, b] = await Promise.all([first, second]);
    expect(mostOutstanding).toBeGreaterThanOrEqual(2);
    expect(b.chain).toBe(a.chain);
    expect(b.seq).toBe(a.seq + 1);
    expect(b.prev).toBe(a.hash);
    expect(await grants.get('g_p1')).toBeDefined();
    expect(await grants.get('g_p2')).toBeDefined();
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('refuses a batch sealed behind one that failed: no gap in the chain, no grant without its record', async () => {
    const before = await log.record(mint('g_before'));
    // The first record of the next batch fails inside the append script (its grant key holds a
    // string), after the batch behind it has been sent.
    await redis.set(keys.grant('g_poison'), 'not a hash');
    mostOutstanding = 0;
    await holdWrites(200);
    const failing = log.record(mint('g_poison'));
    failing.catch(() => undefined);
    await nextTurn();
    const behind = mintWithGrant('g_behind');
    behind.catch(() => undefined);
    await expect(failing).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(behind).rejects.toBeInstanceOf(StoreUnavailable);
    expect(mostOutstanding).toBeGreaterThanOrEqual(2);
    await expect(behind).rejects.toMatchObject({ cause: { message: /MANDATE_CHAIN_GAP/ } });
    // Its record never landed, so neither did its grant.
    const records = await stream();
    expect(records.some((r) => r.grant_id === 'g_behind')).toBe(false);
    expect(await grants.get('g_behind')).toBeUndefined();
    // Every chain in the stream runs without a gap, and the writer goes on with a new one.
    const verifier = createChainVerifier(sha256);
    for (const r of records) expect(verifier.add(r)).toBeUndefined();
    const after = await mintWithGrant('g_after');
    expect(after.chain).not.toBe(before.chain);
    expect(after.seq).toBe(1);
    expect(await grants.get('g_after')).toBeDefined();
    expect(JSON.parse((await redis.hget(keys.auditHeads, after.chain)) as string)).toMatchObject({
      seq: 1,
      hash: after.hash,
    });
  });
});
