// A grant's signals on a real Redis: a bounded list of recent ones, a summary that keeps every type
// (and the latest ip, the highest risk) when old entries are dropped, and evaluations that read
// only the summary; over HTTP, a signal too large or of one type too many is refused.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jtiFor } from '../../src/domain/access-token.ts';
import type { Grant } from '../../src/domain/grant.ts';
import type { DecisionLog, EvaluationStore, GrantStore } from '../../src/domain/ports.ts';
import { createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { createRedisEvaluationStore, stateDigest } from '../../src/store/redis-evaluation-store.ts';
import { createRedisGrantStore } from '../../src/store/redis-grant-store.ts';
import { admin, CRM, createClients, mintToken, task } from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

const redisUrl = () => inject('redisUrl');
const nowSec = Math.floor(Date.now() / 1000);

describe('signal bounds in the grant store', () => {
  let redis: Redis;
  let keys: KeyNames;
  let store: GrantStore;
  let evaluations: EvaluationStore;
  let log: DecisionLog;
  const prefix = uniquePrefix('signal-limits');

  let db: TestRedis;

  beforeAll(async () => {
    db = await connectTestRedis(prefix);
    redis = db.redis;
    keys = createKeyNames(prefix);
    store = createRedisGrantStore(redis, keys, {
      signals: { maxPerGrant: 5, maxTypesPerGrant: 4 },
    });
    const decisions = createRedisDecisionLog(redis, keys, { maxRecords: 10_000 });
    log = decisions;
    evaluations = createRedisEvaluationStore(redis, keys, decisions);
  });
  afterAll(async () => {
    await db?.close();
  });

  async function mint(): Promise<{ id: string; jti: string }> {
    const id = `g_${randomBytes(16).toString('base64url')}`;
    const granted = [
      { type: 'agent_task' as const, task_id: 't1', actions: ['read'], locations: [CRM] },
    ];
    const grant: Grant = {
      id,
      client_id: 'agent',
      task_id: 't1',
      status: 'active',
      requested: granted,
      granted,
      context: {
        ip: '203.0.113.9',
        risk: 5,
        signals: ['at_mint'],
        approved: false,
        delegated: false,
        sender_constrained: false,
        groups: [],
      },
      policy_version: 1,
      created_at: nowSec,
      expires_at: nowSec + 3600,
    };
    const jti = jtiFor(id, randomBytes(12).toString('base64url'));
    await log.record(
      {
        kind: 'mint',
        outcome: 'permit',
        reasons: [],
        client_id: 'agent',
        grant_id: id,
        task_id: 't1',
        inputs: {},
      },
      {
        followedBy: () =>
          store.create(
            grant,
            { jti, exp: nowSec + 300 },
            `sha256:${randomBytes(32).toString('base64url')}`,
          ),
      },
    );
    return { id, jti };
  }

  it('keeps the newest signals, and every type, the latest ip and the highest risk in the summary', async () => {
    const { id, jti } = await mint();
    expect(
      await store.addSignal(id, {
        type: 'quarantine',
        risk: 80,
        context: { ip: '198.51.100.7' },
        at: nowSec,
      }),
    ).toBe('added');
    for (let i = 0; i < 20; i++)
      expect(
        await store.addSignal(id, {
          type: 'heartbeat',
          risk: 1,
          context: { n: i },
          at: nowSec + i,
        }),
      ).toBe('added');
    // The list holds only the newest 5: the quarantine signal is gone from it.
    const list = await redis.lrange(keys.grantSignals(id), 0, -1);
    expect(list).toHaveLength(5);
    expect(list.every((s) => JSON.parse(s).type === 'heartbeat')).toBe(true);

    // An evaluation reads the summary (never the list): the type, risk and ip still count.
    const state = await evaluations.read(id, jti, 'agent', 'read', nowSec);
    expect(state?.signals).toEqual({
      version: 21,
      types: ['quarantine', 'heartbeat'],
      ip: '198.51.100.7',
      risk: 80,
    });
    const summaryText = (await redis.get(keys.grantSignalSummary(id))) ?? '';
    expect(state?.digest).toBe(
      stateDigest((await redis.get(keys.grantData(id))) ?? '', summaryText),
    );

    // Re-evaluation reads the kept signals with stand-ins for what was dropped: the same types, ip and risk.
    const [loaded] = await store.getMany([id]);
    const signals = loaded?.signals ?? [];
    expect(new Set(signals.map((s) => s.type))).toEqual(new Set(['quarantine', 'heartbeat']));
    expect(Math.max(...signals.map((s) => s.risk ?? 0))).toBe(80);
    expect(
      signals.filter((s) => typeof s.context?.ip === 'string').map((s) => s.context?.ip),
    ).toEqual(['198.51.100.7']);
  });

  it("refuses a new type beyond the per-grant cap, writing nothing, but always takes the drift rules' types", async () => {
    const { id } = await mint();
    for (const type of ['a', 'b', 'c', 'd'])
      expect(await store.addSignal(id, { type, at: nowSec })).toBe('added');
    const before = await redis.get(keys.grantSignalSummary(id));
    expect(await store.addSignal(id, { type: 'e', at: nowSec })).toBe('too_many_types');
    expect(await redis.get(keys.grantSignalSummary(id))).toBe(before);
    expect(await redis.llen(keys.grantSignals(id))).toBe(4);
    // A known type is still taken, and so is one a drift rule acts on.
    expect(await store.addSignal(id, { type: 'a', at: nowSec })).toBe('added');
    expect(await store.addSignal(id, { type: 'task_complete', at: nowSec })).toBe('added');
    expect(await store.addSignal('g_absent', { type: 'a', at: nowSec })).toBe('missing');
  });

  it('an evaluation of a grant with a long signal history reads a summary of bounded size', async () => {
    const { id, jti } = await mint();
    const bulky = { blob: 'x'.repeat(3000) };
    for (let i = 0; i < 50; i++)
      await store.addSignal(id, { type: 'heartbeat', context: bulky, at: nowSec });
    const summaryBytes = Buffer.byteLength((await redis.get(keys.grantSignalSummary(id))) ?? '');
    expect(summaryBytes).toBeLessThan(200);
    const state = await evaluations.read(id, jti, 'agent', 'read', nowSec);
    expect(state?.signals.version).toBe(50);
    // A signal since changes the digest an evaluation guard compares (so a snapshot is not reused).
    await store.addSignal(id, { type: 'heartbeat', at: nowSec });
    const after = await evaluations.read(id, jti, 'agent', 'read', nowSec);
    expect(after?.digest).not.toBe(state?.digest);
  });
});

describe('signal bounds over HTTP', () => {
  let broker: TestBroker;
  let grantId: string;

  beforeAll(async () => {
    broker = await startTestBroker({
      config: 'signals: { max_per_grant: 3, max_context_bytes: 1024, max_types_per_grant: 2 }\n',
    });
    const { agent } = await createClients(broker.url, { resources: [CRM] });
    grantId = (await mintToken(broker.url, agent, [task(['read'])])).grant_id;
  });
  afterAll(async () => {
    await broker?.close();
  });

  const signal = (body: Record<string, unknown>) =>
    admin(broker.url, 'POST', '/v1/signals', { grant_id: grantId, ...body });

  it('refuses a context larger than signals.max_context_bytes with 400 problem+json, recording nothing', async () => {
    const res = await signal({ type: 'note', context: { text: 'y'.repeat(2000) } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const redis = new Redis(redisUrl());
    try {
      const keys = createKeyNames(broker.prefix);
      expect(await redis.exists(keys.grantSignals(grantId), keys.grantSignalSummary(grantId))).toBe(
        0,
      );
    } finally {
      redis.disconnect();
    }
  });

  it('takes signals beyond max_per_grant, and refuses a third distinct type with 409', async () => {
    for (let i = 0; i < 6; i++)
      expect((await signal({ type: i % 2 ? 'note' : 'seen', context: { i } })).status).toBe(202);
    const res = await signal({ type: 'third' });
    expect(res.status).toBe(409);
    const redis = new Redis(redisUrl());
    try {
      const keys = createKeyNames(broker.prefix);
      expect(await redis.llen(keys.grantSignals(grantId))).toBe(3);
      expect(JSON.parse((await redis.get(keys.grantSignalSummary(grantId))) ?? '{}')).toMatchObject(
        { v: 6, t: ['seen', 'note'] },
      );
    } finally {
      redis.disconnect();
    }
  });
});
