// Acknowledged writes on a real 3-primary Redis Cluster: confirmed on the replica of the grants' slot, 503 without it, nothing acknowledged lost when its primary dies.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRANT_FIELDS } from '../../src/store/grant-fields.ts';
import {
  admin,
  type Credentials,
  createClients,
  mintToken,
  oauthPost,
  task,
  waitFor,
} from '../support/broker.ts';
import { type RedisTopologyFixture, startRedisCluster } from '../support/redis-ha.ts';
import type { RedisServer } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ACK_TIMEOUT_MS = 500;
/** What an answer may take past the ack timeout on a busy 2-core machine. */
const SLACK_MS = 1500;

/** Runs `fn` on a plain connection to one node (READONLY: a replica serves its primary's slots). */
async function onNode<T>(server: RedisServer, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
  await r.connect();
  try {
    await r.call('READONLY');
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

describe('acknowledged writes on Redis Cluster (min_replicas_ack: 1)', () => {
  let cluster: RedisTopologyFixture;
  let broker: TestBroker;
  let agent: Credentials;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    broker = await startTestBroker({
      redisUrl: cluster.url,
      config: `redis:\n  min_replicas_ack: 1\n  replica_ack_timeout_ms: ${ACK_TIMEOUT_MS}\n`,
      deleteKeysOnClose: false,
    });
    ({ agent } = await createClients(broker.url));
  });

  afterAll(async () => {
    for (const s of cluster?.servers ?? []) s.resume();
    await broker?.close();
    await cluster?.stop();
  });

  const keys = () => broker.deps.keys;
  const grantsPrimary = () => cluster.primaryOf(keys().grant('x'));
  /** The replica of the grants' slot now. */
  const grantsReplica = async () => {
    const primary = await grantsPrimary();
    const port = await onNode(primary, async (r) =>
      Number(/^slave0:.*port=(\d+)/m.exec(await r.info('replication'))?.[1]),
    );
    const replica = cluster.servers.find((s) => s.port === port);
    if (!replica) throw new Error(`no replica of ${primary.port}`);
    return replica;
  };
  const statusOn = (server: RedisServer, grantId: string) =>
    onNode(server, (r) => r.hget(keys().grant(grantId), GRANT_FIELDS.status));
  const revokeGrant = (grantId: string) =>
    admin(broker.url, 'POST', '/admin/revocations', { grant_id: grantId, reason: 'test' });

  it('asks for one replica and confirms on the primary of the grants slot', async () => {
    expect(broker.deps.keys.replicaAckMarker.startsWith(broker.deps.keys.prefix)).toBe(true);
    const replica = await grantsReplica();
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    // Answered 200: the new grant is on the replica already (no waiting here).
    expect(await statusOn(replica, tr.grant_id)).toBe('active');
    const res = await revokeGrant(tr.grant_id);
    expect(res.status, res.text).toBe(200);
    expect(await statusOn(replica, tr.grant_id)).toBe('revoked');

    const other = await mintToken(broker.url, agent, [task(['read'])]);
    const jti = JSON.parse(
      Buffer.from(other.access_token.split('.')[1] as string, 'base64url').toString(),
    ).jti as string;
    const own = await oauthPost(
      broker.url,
      '/oauth/revoke',
      { token: other.access_token, token_type_hint: 'access_token' },
      agent,
    );
    expect(own.status).toBe(200);
    expect(
      await onNode(replica, (r) => r.sismember(keys().grantRevokedJtis(other.grant_id), jti)),
    ).toBe(1);
  });

  it("with the slot's replica frozen, a revocation answers 503 within the timeout; thawed, 200", async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const replica = await grantsReplica();
    replica.pause();
    let res: Awaited<ReturnType<typeof revokeGrant>>;
    let tookMs: number;
    try {
      const started = Date.now();
      res = await revokeGrant(tr.grant_id);
      tookMs = Date.now() - started;
    } finally {
      replica.resume();
    }
    expect(res.status).toBe(503);
    expect(String(res.body.detail)).toContain('not confirmed durable');
    expect(tookMs).toBeLessThan(ACK_TIMEOUT_MS + SLACK_MS);
    // Sent again once the replica is back, it is confirmed.
    expect(await waitFor(async () => (await revokeGrant(tr.grant_id)).status === 200, 10_000)).toBe(
      true,
    );
    expect(await statusOn(replica, tr.grant_id)).toBe('revoked');
  });

  it('kill -9 of the primary under concurrent revocations: every revocation answered 200 holds on the promoted replica', async () => {
    const grants: string[] = [];
    for (let i = 0; i < 30; i++) {
      const batch = await Promise.all(
        Array.from({ length: 8 }, () => mintToken(broker.url, agent, [task(['read'])])),
      );
      grants.push(...batch.map((t) => t.grant_id));
    }
    const primary = await grantsPrimary();
    const acknowledged: string[] = [];
    const refused: number[] = [];
    let killedAt = 0;
    let resumedAt = 0;
    let afterResume = 0;
    const worker = async () => {
      for (;;) {
        const id = grants.shift();
        if (id === undefined || afterResume >= 20) return;
        const sentAt = Date.now();
        const res = await revokeGrant(id).catch(() => ({ status: 0 }));
        if (res.status === 200) {
          acknowledged.push(id);
          // Answers resumed: a revocation sent after the primary died was acknowledged.
          if (killedAt > 0 && sentAt > killedAt) {
            resumedAt ||= Date.now();
            afterResume += 1;
          }
        } else {
          refused.push(res.status);
          await new Promise((ok) => setTimeout(ok, 200));
        }
      }
    };
    const running = Promise.all(Array.from({ length: 4 }, worker));
    await waitFor(async () => acknowledged.length >= 10, 10_000, 5);
    await primary.kill('SIGKILL');
    killedAt = Date.now();
    // Restarted once the slot has moved, it comes back as the new primary's replica.
    expect(await waitFor(async () => (await grantsPrimary()) !== primary, 30_000, 100)).toBe(true);
    await primary.restart();
    await running;
    console.info(
      `cluster: slot primary killed under ${acknowledged.length} acknowledged revocations; answers resumed after ${resumedAt - killedAt} ms (${refused.length} refused meanwhile)`,
    );
    expect(resumedAt).toBeGreaterThan(0);
    expect(refused.every((s) => s === 503)).toBe(true);
    const promoted = await grantsPrimary();
    expect(promoted).not.toBe(primary);
    const lost: string[] = [];
    for (const id of acknowledged) if ((await statusOn(promoted, id)) !== 'revoked') lost.push(id);
    expect(lost).toEqual([]);
    expect((await revokeGrant(acknowledged[0] as string)).status).toBe(200);
  });
});
