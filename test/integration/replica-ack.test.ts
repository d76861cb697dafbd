// Acknowledged means replicated: on a primary with a replica, revocations and new grants answer only once the replica has them, else 503.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteNotConfirmed } from '../../src/domain/errors.ts';
import { GRANT_FIELDS } from '../../src/store/grant-fields.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import {
  admin,
  type Credentials,
  createClients,
  isActive,
  mintToken,
  oauthPost,
  requestToken,
  task,
} from '../support/broker.ts';
import { type ReplicaPair, startReplicaPair } from '../support/redis-replica-pair.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ACK_TIMEOUT_MS = 300;
/** What an answer may take past the ack timeout on a busy 2-core machine. */
const SLACK_MS = 1500;

describe('revocations and grants acknowledged once on a replica', () => {
  let pair: ReplicaPair;
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let keys: ReturnType<typeof createKeyNames>;

  beforeAll(async () => {
    pair = await startReplicaPair({ appendonly: false });
    // No min_replicas_ack: the broker finds the replica at start and asks for 1.
    broker = await startTestBroker({
      redisUrl: pair.primary.url,
      config: `redis:\n  replica_ack_timeout_ms: ${ACK_TIMEOUT_MS}\n`,
    });
    ({ agent, resource } = await createClients(broker.url));
    keys = createKeyNames(broker.prefix);
  });

  afterAll(async () => {
    pair?.replica.resume();
    await broker?.close();
    await pair?.stop();
  });

  const revokeGrant = (grantId: string) =>
    admin(broker.url, 'POST', '/admin/revocations', { grant_id: grantId, reason: 'test' });
  const grantStatusOnReplica = (grantId: string) =>
    pair.readOnReplica((r) => r.hget(keys.grant(grantId), GRANT_FIELDS.status));

  it('a minted grant and an admin revocation are on the replica when the broker answers', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    expect(await grantStatusOnReplica(tr.grant_id)).toBe('active');
    const res = await revokeGrant(tr.grant_id);
    expect(res.status).toBe(200);
    expect(await grantStatusOnReplica(tr.grant_id)).toBe('revoked');
  });

  it('an RFC 7009 revocation of an access token is on the replica when the broker answers', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const jti = JSON.parse(
      Buffer.from(tr.access_token.split('.')[1] as string, 'base64url').toString(),
    ).jti as string;
    const res = await oauthPost(
      broker.url,
      '/oauth/revoke',
      { token: tr.access_token, token_type_hint: 'access_token' },
      agent,
    );
    expect(res.status).toBe(200);
    const revoked = await pair.readOnReplica((r) =>
      r.sismember(keys.grantRevokedJtis(tr.grant_id), jti),
    );
    expect(revoked).toBe(1);
  });

  it('with the replica frozen, revocations and the token endpoint answer 503 within the timeout; the revocation may still hold on the primary', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const refreshable = await mintToken(broker.url, agent, [task(['read'])]);
    pair.replica.pause();
    try {
      let started = Date.now();
      const res = await revokeGrant(tr.grant_id);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(String(res.body.detail)).toContain('not confirmed durable');
      expect(Date.now() - started).toBeLessThan(ACK_TIMEOUT_MS + SLACK_MS);
      // Written on the primary, unconfirmed on the replica: the 503 said "not confirmed", not "not done".
      expect(await isActive(broker.url, resource, tr.access_token)).toBe(false);

      started = Date.now();
      const own = await oauthPost(
        broker.url,
        '/oauth/revoke',
        { token: refreshable.refresh_token, token_type_hint: 'refresh_token' },
        agent,
      );
      expect(own.status).toBe(503);
      expect(own.body.error).toBe('temporarily_unavailable');
      expect(Date.now() - started).toBeLessThan(ACK_TIMEOUT_MS + SLACK_MS);

      started = Date.now();
      const minted = await requestToken(broker.url, agent, [task(['read'])]);
      expect(minted.status).toBe(503);
      expect(minted.body.error).toBe('temporarily_unavailable');
      expect(minted.body.access_token).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(ACK_TIMEOUT_MS + SLACK_MS);
    } finally {
      pair.replica.resume();
    }
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toMatch(/mandate_replica_acks_total\{outcome="not_confirmed"\} [1-9]/);
    expect(metrics).toMatch(/mandate_replica_acks_total\{outcome="confirmed"\} [1-9]/);
    // The replica is back: the same revocation sent again is acknowledged (it was already on the primary).
    const again = await revokeGrant(tr.grant_id);
    expect(again.status).toBe(200);
    expect(await grantStatusOnReplica(tr.grant_id)).toBe('revoked');
    expect((await requestToken(broker.url, agent, [task(['read'])])).status).toBe(200);
  });

  it('with the replica killed, a revocation answers 503 (the broker does not stop asking for it); restarted, it works', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    await pair.replica.kill('SIGKILL');
    try {
      const res = await revokeGrant(tr.grant_id);
      expect(res.status).toBe(503);
    } finally {
      await pair.replica.restart();
      await pair.linked();
    }
    const again = await revokeGrant(tr.grant_id);
    expect(again.status).toBe(200);
    expect(await grantStatusOnReplica(tr.grant_id)).toBe('revoked');
  });

  it("the re-evaluation worker's store waits for the replica too", async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const nowSec = Math.floor(Date.now() / 1000);
    pair.replica.pause();
    try {
      await expect(
        broker.deps.workerBroker.grants.revokeGrant(tr.grant_id, 'test', nowSec),
      ).rejects.toBeInstanceOf(WriteNotConfirmed);
    } finally {
      pair.replica.resume();
    }
    const again = await broker.deps.workerBroker.grants.revokeGrant(tr.grant_id, 'test', nowSec);
    expect(again.revoked).toBe(false);
    expect(await grantStatusOnReplica(tr.grant_id)).toBe('revoked');
  });

  it('disabling an agent (the kill switch) is acknowledged on the replica', async () => {
    const { agent: other } = await createClients(broker.url);
    const tr = await mintToken(broker.url, other, [task(['read'])]);
    const res = await admin(broker.url, 'PATCH', `/admin/clients/${other.client_id}`, {
      disabled: true,
    });
    expect(res.status).toBe(200);
    expect(await grantStatusOnReplica(tr.grant_id)).toBe('revoked');
    expect(await pair.readOnReplica((r) => r.get(keys.clientState(other.client_id)))).toBe(
      'disabled',
    );
  });
});
