// The Redis grant store on a real Redis: tokens kept as fields of the grant hash, the per-client
// task index, and every path that reads or revokes them (jti, grant, task, client, narrowing, refresh).
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jtiFor } from '../../src/domain/access-token.ts';
import type { Grant } from '../../src/domain/grant.ts';
import type { AgentTask } from '../../src/domain/intent.ts';
import {
  type DecisionLog,
  type GrantStore,
  MAX_DECISIONS_PER_QUERY,
} from '../../src/domain/ports.ts';
import { clientIndexBucket, createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { createRedisGrantStore, tokenField } from '../../src/store/redis-grant-store.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { connectTestRedis, type TestRedis } from '../support/test-redis.ts';

const CRM = 'https://crm.example.com';
const entry = (task_id: string, actions: string[]): AgentTask => ({
  type: 'agent_task',
  task_id,
  actions,
  locations: [CRM],
});
const refreshHash = () => `sha256:${randomBytes(32).toString('base64url')}`;

describe('redis grant store', () => {
  let redis: Redis;
  let prefix: string;
  let keys: KeyNames;
  let store: GrantStore;
  let log: DecisionLog;
  const nowSec = Math.floor(Date.now() / 1000);

  let db: TestRedis;

  beforeAll(async () => {
    db = await connectTestRedis(uniquePrefix('grant-store'));
    ({ redis, prefix } = db);
    keys = createKeyNames(prefix);
    store = createRedisGrantStore(redis, keys);
    log = createRedisDecisionLog(redis, keys, { maxRecords: 10_000 });
  });
  afterAll(async () => {
    await db?.close();
  });

  /** Stores a read+write grant with one token; returns it with that token's jti and its refresh hash. */
  async function mint(clientId: string, taskId: string, opts: { jti?: string; exp?: number } = {}) {
    const id = `g_${randomBytes(16).toString('base64url')}`;
    const granted = [entry(taskId, ['read', 'write'])];
    const grant: Grant = {
      id,
      client_id: clientId,
      task_id: taskId,
      status: 'active',
      requested: granted,
      granted,
      context: {
        risk: 0,
        signals: [],
        approved: false,
        delegated: false,
        sender_constrained: false,
        groups: [],
      },
      policy_version: 1,
      created_at: nowSec,
      expires_at: nowSec + 3600,
    };
    const jti = opts.jti ?? jtiFor(id, randomBytes(12).toString('base64url'));
    const hash = refreshHash();
    // The store refuses a grant whose mint record has not landed (see the last test).
    await log.record(
      {
        kind: 'mint',
        outcome: 'permit',
        reasons: [],
        client_id: clientId,
        grant_id: id,
        task_id: taskId,
        inputs: {},
      },
      { followedBy: () => store.create(grant, { jti, exp: opts.exp ?? nowSec + 300 }, hash) },
    );
    return { grant, jti, hash };
  }

  const revokedJtis = (grantId: string) => redis.smembers(keys.grantRevokedJtis(grantId));

  it('keeps a grant in two compact keys: the hash (tokens as fields) and the data string', async () => {
    const { grant, jti, hash } = await mint('agent-a', 'T-compact');
    // Two keys of its own; its one decision record's stream id is the hash's `h`.
    expect((await redis.keys(`${prefix}{g:${grant.id}}*`)).sort()).toEqual(
      [keys.grant(grant.id), keys.grantData(grant.id)].sort(),
    );
    expect(await redis.hget(keys.grant(grant.id), 'h')).toMatch(/^\d+-\d+$/);
    expect(await redis.object('ENCODING', keys.grant(grant.id))).toBe('listpack');
    expect(await redis.hget(keys.grant(grant.id), tokenField(grant.id, jti))).toBe(
      String(nowSec + 300),
    );
    expect(tokenField(grant.id, jti)).toBe(jti.slice(grant.id.length));
    const stored = await store.get(grant.id);
    expect(stored).toMatchObject({
      id: grant.id,
      client_id: 'agent-a',
      task_id: 'T-compact',
      status: 'active',
      refresh_hash: hash,
      used_refresh_hashes: [],
    });
    expect(stored?.granted).toEqual(grant.granted);
    expect(await store.check(grant.id, jti)).toEqual({
      status: 'active',
      expires_at: grant.expires_at,
      client_id: 'agent-a',
      jtiRevoked: false,
    });
  });

  it('revokes one token by jti, once, and only a token of the grant', async () => {
    const { grant, jti } = await mint('agent-a', 'T-jti');
    expect(await store.revokeToken(`${grant.id}.unknown`, nowSec)).toEqual({ revoked: false });
    expect(await store.revokeToken(jti, nowSec)).toEqual({ grantId: grant.id, revoked: true });
    expect(await store.revokeToken(jti, nowSec)).toEqual({ grantId: grant.id, revoked: false });
    expect((await store.check(grant.id, jti))?.jtiRevoked).toBe(true);
    expect(await redis.ttl(keys.grantRevokedJtis(grant.id))).toBeGreaterThan(0);
  });

  it('rotates refresh tokens, drops expired tokens, and revokes the grant on a replay', async () => {
    const { grant, jti, hash } = await mint('agent-a', 'T-refresh', { exp: nowSec - 1 });
    const next = { jti: jtiFor(grant.id, 'second'), exp: nowSec + 300 };
    const second = refreshHash();
    expect(
      await store.refresh(
        grant.id,
        hash,
        { refreshHash: second, token: next, policyVersion: 2 },
        nowSec,
      ),
    ).toBe('ok');
    expect(await redis.hget(keys.grant(grant.id), tokenField(grant.id, jti))).toBeNull();
    expect(await redis.hget(keys.grant(grant.id), tokenField(grant.id, next.jti))).toBe(
      String(nowSec + 300),
    );
    expect(await store.get(grant.id)).toMatchObject({
      refresh_hash: second,
      policy_version: 2,
      used_refresh_hashes: [hash.slice(7, 23)],
    });
    expect(
      await store.refresh(
        grant.id,
        refreshHash(),
        { refreshHash: refreshHash(), token: next, policyVersion: 2 },
        nowSec,
      ),
    ).toBe('invalid');
    expect(
      await store.refresh(
        grant.id,
        hash,
        { refreshHash: refreshHash(), token: next, policyVersion: 2 },
        nowSec,
      ),
    ).toBe('replay');
    expect((await store.get(grant.id))?.status).toBe('revoked');
    expect(await redis.zscore(keys.liveGrants, grant.id)).toBeNull();
    expect(
      await store.refresh(
        'g_missing',
        hash,
        { refreshHash: second, token: next, policyVersion: 2 },
        nowSec,
      ),
    ).toBe('missing');
  });

  it('a narrowing refresh revokes the outstanding tokens; a widening one keeps them', async () => {
    const narrowed = await mint('agent-a', 'T-refresh-narrow');
    const expired = { jti: jtiFor(narrowed.grant.id, 'old'), exp: nowSec - 10 };
    await store.update(narrowed.grant.id, 'active', 'active', undefined, expired);
    const token = { jti: jtiFor(narrowed.grant.id, 'narrow'), exp: nowSec + 300 };
    const granted = [entry('T-refresh-narrow', ['read'])];
    expect(
      await store.refresh(
        narrowed.grant.id,
        narrowed.hash,
        { refreshHash: refreshHash(), token, granted, policyVersion: 2 },
        nowSec,
      ),
    ).toBe('ok');
    expect(await revokedJtis(narrowed.grant.id)).toEqual([narrowed.jti]);
    expect((await store.get(narrowed.grant.id))?.granted).toEqual(granted);
    expect((await store.check(narrowed.grant.id, token.jti))?.jtiRevoked).toBe(false);

    const widened = await mint('agent-a', 'T-refresh-widen');
    const more = [entry('T-refresh-widen', ['read', 'write', 'export'])];
    const next = {
      refreshHash: refreshHash(),
      token: { jti: jtiFor(widened.grant.id, 'w'), exp: nowSec + 300 },
      granted: more,
      widened: true,
      policyVersion: 2,
    };
    expect(await store.refresh(widened.grant.id, widened.hash, next, nowSec)).toBe('ok');
    expect(await revokedJtis(widened.grant.id)).toEqual([]);
  });

  it('narrowing revokes every unexpired token, also one whose jti does not name the grant', async () => {
    const { grant, jti } = await mint('agent-a', 'T-narrow', { jti: 'plain-jti' });
    expect(await redis.hget(keys.grant(grant.id), '=plain-jti')).not.toBeNull();
    const second = { jti: jtiFor(grant.id, 'two'), exp: nowSec + 300 };
    expect(await store.update(grant.id, 'active', 'active', undefined, second)).toBe(true);
    const read = [entry('T-narrow', ['read'])];
    expect(await store.narrow(grant.id, [entry('T-narrow', ['write'])], read, 3, nowSec)).toBe(
      false,
    );
    expect(
      await store.narrow(grant.id, grant.granted, read, 3, nowSec, {
        id: 'rec-1',
        outcome: 'narrow',
        reason: 'policy',
      }),
    ).toBe(true);
    expect((await revokedJtis(grant.id)).sort()).toEqual([jti, second.jti].sort());
    expect(await store.get(grant.id)).toMatchObject({ granted: read, policy_version: 3 });
    expect(
      await store.claimPending(grant.id, 'rec-1', {
        id: 'rec-2',
        outcome: 'narrow',
        reason: 'policy',
      }),
    ).toBe(true);
    expect(
      await store.claimPending(grant.id, 'rec-1', {
        id: 'rec-3',
        outcome: 'narrow',
        reason: 'policy',
      }),
    ).toBe(false);
  });

  it('revoking a grant counts its unexpired tokens and leaves the live index', async () => {
    const { grant } = await mint('agent-a', 'T-revoke');
    await store.update(grant.id, 'active', 'active', undefined, {
      jti: jtiFor(grant.id, 'expired'),
      exp: nowSec - 5,
    });
    await store.update(grant.id, 'active', 'active', undefined, {
      jti: jtiFor(grant.id, 'live'),
      exp: nowSec + 60,
    });
    expect(await store.revokeGrant(grant.id, 'admin', nowSec)).toEqual({
      revoked: true,
      tokens: 2,
    });
    expect(await store.revokeGrant(grant.id, 'admin', nowSec)).toEqual({
      revoked: false,
      tokens: 0,
    });
    expect(await store.get(grant.id)).toMatchObject({ status: 'revoked', reason: 'admin' });
    expect(await redis.zscore(keys.liveGrants, grant.id)).toBeNull();
  });

  it('suspends and resumes a grant with a new token', async () => {
    const { grant } = await mint('agent-a', 'T-suspend');
    expect(await store.suspend(grant.id, 'approval_required')).toBe(true);
    expect(await store.get(grant.id)).toMatchObject({
      status: 'suspended',
      reason: 'approval_required',
    });
    const token = { jti: jtiFor(grant.id, 'resumed'), exp: nowSec + 300 };
    expect(await store.update(grant.id, 'active', 'active', undefined, token)).toBe(false);
    expect(await store.update(grant.id, 'suspended', 'active', { policy_version: 4 }, token)).toBe(
      true,
    );
    expect(await store.get(grant.id)).toMatchObject({
      status: 'active',
      reason: undefined,
      policy_version: 4,
    });
    expect(await store.revokeToken(token.jti, nowSec)).toMatchObject({ revoked: true });
  });

  it('finds grants by task across clients, by client, and lists them with both filters', async () => {
    const a1 = await mint('agent-b', 'T-shared');
    const a2 = await mint('agent-b', 'T-shared');
    const b1 = await mint('agent-c', 'T-shared');
    const other = await mint('agent-b', 'T-other');
    expect((await store.grantIdsOfTask('T-shared', nowSec)).sort()).toEqual(
      [a1.grant.id, a2.grant.id, b1.grant.id].sort(),
    );
    expect(await store.grantIdsOfTask('T-none', nowSec)).toEqual([]);
    expect((await store.grantIdsOfClient('agent-b', nowSec)).sort()).toEqual(
      [a1.grant.id, a2.grant.id, other.grant.id].sort(),
    );
    expect(await store.grantIdsOfClient('agent-none', nowSec)).toEqual([]);
    const ids = async (filter: Parameters<GrantStore['list']>[0]) =>
      (await store.list(filter, nowSec)).map((g) => g.id).sort();
    expect(await ids({ task_id: 'T-shared', limit: 10 })).toEqual(
      [a1.grant.id, a2.grant.id, b1.grant.id].sort(),
    );
    expect(await ids({ client_id: 'agent-b', task_id: 'T-shared', limit: 10 })).toEqual(
      [a1.grant.id, a2.grant.id].sort(),
    );
    expect(await ids({ client_id: 'agent-c', limit: 10 })).toEqual([b1.grant.id]);
    expect(await store.liveGrantIds(0, 1000, nowSec)).toEqual(
      expect.arrayContaining([a1.grant.id, b1.grant.id, other.grant.id]),
    );
    // The index bucket ends at (or just after) its grants' deadline, so it forgets them by itself.
    const bucket = clientIndexBucket(nowSec + 3600);
    expect(bucket).toBeGreaterThanOrEqual(nowSec + 3600);
    expect(await redis.call('EXPIRETIME', keys.clientGrants('agent-b', bucket))).toBe(bucket);
    expect(await redis.hget(keys.clientGrants('agent-b', bucket), a1.grant.id)).toBe('T-shared');
  });

  it("indexes a grant's decision records while it lives, and finds them in the stream after", async () => {
    const { grant } = await mint('agent-f', 'T-history');
    const later = {
      kind: 'refresh' as const,
      outcome: 'permit',
      reasons: [],
      client_id: 'agent-f',
      grant_id: grant.id,
      inputs: {},
    };
    await log.record(later);
    await log.record({ ...later, kind: 'revocation' as const });
    const kinds = async () =>
      (await log.list({ grant_id: grant.id, limit: 10 })).map((r) => r.kind);
    expect(await kinds()).toEqual(['mint', 'refresh', 'revocation']);
    expect((await log.list({ grant_id: grant.id, limit: 2 })).map((r) => r.kind)).toEqual([
      'refresh',
      'revocation',
    ]);
    // The records after the first are listed in a string that ends with the grant.
    expect(await redis.call('EXPIRETIME', keys.grantHistory(grant.id))).toBe(grant.expires_at);
    await redis.del(keys.grant(grant.id), keys.grantHistory(grant.id));
    expect(await kinds()).toEqual(['mint', 'refresh', 'revocation']);
  });

  it("keeps a busy grant's history to the depth a query can ask for", async () => {
    const { grant } = await mint('agent-g', 'T-busy');
    const evaluation = {
      kind: 'evaluation' as const,
      outcome: 'permit',
      client_id: 'agent-g',
      grant_id: grant.id,
      inputs: {},
    };
    await Promise.all(
      Array.from({ length: 4000 }, (_, i) => log.record({ ...evaluation, reasons: [String(i)] })),
    );
    // 4,000 ids of about 16 bytes outgrew 48 KiB once: the string was cut back to its newest 24 KiB.
    const bytes = await redis.strlen(keys.grantHistory(grant.id));
    expect(bytes).toBeGreaterThan(24 * 1024 - 32);
    expect(bytes).toBeLessThan(48 * 1024);
    expect(await redis.get(keys.grantHistory(grant.id))).toMatch(/^\d+-\d+,/);
    const newest = await log.list({ grant_id: grant.id, limit: MAX_DECISIONS_PER_QUERY });
    expect(newest.map((r) => Number(r.reasons[0]))).toEqual(
      Array.from({ length: 1000 }, (_, i) => 3000 + i),
    );
  });

  it('looks a client or task up only among grants that may still be alive', async () => {
    const live = await mint('agent-e', 'T-ending');
    const deadline = live.grant.expires_at;
    const after = clientIndexBucket(deadline) + 1;
    expect(await store.grantIdsOfClient('agent-e', deadline)).toEqual([live.grant.id]);
    expect(await store.grantIdsOfTask('T-ending', deadline)).toEqual([live.grant.id]);
    expect(await store.grantIdsOfClient('agent-e', after)).toEqual([]);
    expect(await store.grantIdsOfTask('T-ending', after)).toEqual([]);
    // A task lookup after every grant of a client ended drops the client from the ones it asks.
    expect(await redis.zscore(keys.clientsWithGrants, 'agent-e')).toBeNull();
  });

  it('refuses a grant whose mint record has not landed, writing nothing', async () => {
    const { grant } = await mint('agent-d', 'T-ok');
    const orphan = { ...grant, id: `g_${randomBytes(16).toString('base64url')}` };
    const refused = await store
      .create(orphan, { jti: jtiFor(orphan.id, 'x'), exp: nowSec + 300 }, refreshHash())
      .then(
        () => undefined,
        (err: Error) => err,
      );
    expect(refused?.name).toBe('StoreUnavailable');
    expect(String(refused?.cause)).toMatch(/has no decision record/);
    expect(await redis.exists(keys.grant(orphan.id), keys.grantData(orphan.id))).toBe(0);
    expect(await redis.zscore(keys.liveGrants, orphan.id)).toBeNull();
  });
});
