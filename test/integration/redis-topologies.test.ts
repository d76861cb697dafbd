// The contract's flows on a real Redis Sentinel set-up and a real 3-primary Redis Cluster, with two brokers (one running the workers).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cibaPoller,
  claimsOf,
  evaluate,
  evaluationRequest,
  grantView,
  POLICY_CONFIG,
} from '../support/action-time.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClient,
  introspect,
  isActive,
  mintToken,
  oauthPost,
  refresh,
  requestToken,
  task,
  waitFor,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import {
  type RedisTopologyFixture,
  SENTINEL_MASTER,
  startRedisTopology,
} from '../support/redis-ha.ts';
import { freePort } from '../support/redis-server.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const DEFAULT_POLICY = readFileSync(
  resolve(import.meta.dirname, '../../config/policies/default.cedar'),
  'utf8',
);
const CONFIG = [
  POLICY_CONFIG,
  'worker: { sweep_every_ms: 1000 }',
  'approvals: { ttl: 30, interval: 1 }',
  'caep: { allow_http: true, allow_private_targets: true }',
  '',
].join('\n');
/**
 * Replica acknowledgements stay on (automatic: 1) on Sentinel. On the cluster they are off: after
 * its failover the acknowledgement connections do not recover yet (writes keep answering 503 once
 * the dead node is back as a replica), a known gap of acknowledged writes on Cluster.
 */
const configOf = (kind: string) =>
  kind === 'cluster' ? `${CONFIG}redis: { min_replicas_ack: 0 }\n` : CONFIG;

/** A local RFC 8935 receiver that records every pushed SET. */
async function startReceiver(): Promise<{ url: string; sets: string[]; server: Server }> {
  const sets: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      sets.push(body);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, sets, server };
}

/**
 * A fresh key prefix whose Cluster slot is served by another primary than any of `keys`: the
 * decision log's append takes its key count first (6 for one record of a grant), which ioredis'
 * auto-pipelining would mistake for a key: this makes that mistake send it to the wrong node.
 */
async function prefixAwayFrom(topology: RedisTopologyFixture, keys: string[]): Promise<string> {
  if (topology.kind !== 'cluster') return uniquePrefix(topology.kind);
  const taken = new Set<number>();
  for (const k of keys) taken.add((await topology.primaryOf(k)).port);
  for (;;) {
    const prefix = uniquePrefix(topology.kind);
    if (!taken.has((await topology.primaryOf(`{${prefix}}`)).port)) return prefix;
  }
}

describe.each(['sentinel', 'cluster'] as const)('on Redis %s', (kind) => {
  let topology: RedisTopologyFixture;
  /** Serves the API and runs the re-evaluation and CAEP workers. */
  let a: TestBroker;
  /** Serves the API only, in a process of its own: what `a` revokes must be refused here too. */
  let b: BrokerProcess;
  let agent: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    topology = await startRedisTopology(kind);
    // Both brokers name one issuer (a's address), as processes behind one URL must.
    const port = await freePort();
    const common = {
      redisUrl: topology.url,
      config: configOf(kind),
      deleteKeysOnClose: false,
      env: { MANDATE_ISSUER: `http://127.0.0.1:${port}` },
    };
    a = await startTestBroker({
      ...common,
      prefix: await prefixAwayFrom(topology, ['6']),
      worker: true,
      env: { ...common.env, MANDATE_PORT: String(port) },
    });
    b = await spawnBrokerProcess({
      redisUrl: topology.url,
      prefix: a.prefix,
      config: configOf(kind),
      env: common.env,
    });
    agent = await createClient(a.url, {
      name: 'agent',
      kind: 'agent',
      groups: ['writers', 'exporters'],
    });
    resource = await createClient(a.url, { name: 'crm', kind: 'resource', resources: [CRM] });
  });

  afterAll(async () => {
    await a?.close();
    await b?.stop();
    await topology?.stop();
  });

  it('connects every client through the topology', async () => {
    expect(a.deps.redis).toBeInstanceOf(kind === 'cluster' ? Cluster : Redis);
    if (a.deps.redis instanceof Redis)
      expect(a.deps.redis.options).toMatchObject({ name: SENTINEL_MASTER });
    // On Cluster every key of the deployment carries the prefix's hash tag.
    if (kind === 'cluster') expect(a.deps.keys.grant('x')).toBe(`{${a.prefix}}{g:x}`);
  });

  it('mints, introspects on the other broker, refreshes, and refuses a replayed refresh token', async () => {
    const t = await mintToken(a.url, agent, [task(['read', 'write'])]);
    expect(await isActive(b.url, resource, t.access_token)).toBe(true);
    const r = await refresh(b.url, agent, t.refresh_token);
    expect(r.status, r.text).toBe(200);
    expect(await isActive(a.url, resource, r.body.access_token)).toBe(true);
    const replay = await refresh(a.url, agent, t.refresh_token);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    // A replayed refresh token revokes the grant (RFC 9700): every token of it is inactive.
    expect(await isActive(b.url, resource, r.body.access_token)).toBe(false);
  });

  it('mints hundreds, 16 at a time: every grant lands behind its record', async () => {
    const statuses: number[] = [];
    // Batches of every size put the decision log's append and the grants in one turn together.
    const worker = async () => {
      for (let i = 0; i < 40; i++)
        statuses.push((await requestToken(b.url, agent, [task(['read'])])).status);
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('evaluates: permits a granted action, denies one outside the grant, and logs both', async () => {
    const t = await mintToken(a.url, agent, [task(['read'])]);
    const permit = await evaluate(
      b.url,
      resource,
      evaluationRequest(agent.client_id, t.access_token, 'read', CRM),
    );
    expect(permit.status, permit.text).toBe(200);
    expect(permit.body.decision).toBe(true);
    const deny = await evaluate(
      a.url,
      resource,
      evaluationRequest(agent.client_id, t.access_token, 'delete', CRM),
    );
    expect(deny.status, deny.text).toBe(200);
    expect(deny.body.decision).toBe(false);
    const kinds = (await grantView(a.url, t.grant_id)).history.map((h) => h.kind);
    expect(kinds.filter((k) => k === 'evaluation')).toHaveLength(2);
  });

  it('revokes by jti (RFC 7009), grant, task and client; both brokers refuse at once', async () => {
    const byJti = await mintToken(a.url, agent, [task(['read'])]);
    const revoked = await oauthPost(b.url, '/oauth/revoke', { token: byJti.access_token }, agent);
    expect(revoked.status, revoked.text).toBe(200);
    expect(await isActive(a.url, resource, byJti.access_token)).toBe(false);

    const byGrant = await mintToken(a.url, agent, [task(['read'])]);
    const g = await admin(a.url, 'POST', '/admin/revocations', {
      grant_id: byGrant.grant_id,
      reason: 'test',
    });
    expect(g.status, g.text).toBe(200);
    expect(await isActive(b.url, resource, byGrant.access_token)).toBe(false);

    const taskId = `T-${kind}-task`;
    const inTask = [
      await mintToken(a.url, agent, [task(['read'], { taskId })]),
      await mintToken(b.url, agent, [task(['write'], { taskId })]),
    ];
    const other = await mintToken(a.url, agent, [task(['read'])]);
    const t = await admin(b.url, 'POST', '/admin/revocations', { task_id: taskId, reason: 'test' });
    expect(t.status, t.text).toBe(200);
    expect(t.body).toMatchObject({ revoked: { grants: 2 } });
    for (const x of inTask) expect(await isActive(a.url, resource, x.access_token)).toBe(false);
    expect(await isActive(a.url, resource, other.access_token)).toBe(true);

    const doomed = await createClient(a.url, {
      name: 'doomed',
      kind: 'agent',
      groups: ['writers'],
    });
    const ofClient = [
      await mintToken(a.url, doomed, [task(['read'])]),
      await mintToken(b.url, doomed, [task(['read'])]),
    ];
    const c = await admin(a.url, 'POST', '/admin/revocations', {
      client_id: doomed.client_id,
      reason: 'test',
    });
    expect(c.status, c.text).toBe(200);
    expect(c.body).toMatchObject({ revoked: { grants: 2 } });
    for (const x of ofClient) expect(await isActive(b.url, resource, x.access_token)).toBe(false);
    expect(await isActive(b.url, resource, other.access_token)).toBe(true);
  });

  it('a signal re-evaluates at once; a closing change window revokes through the scheduled sweep', async () => {
    const signalled = await mintToken(a.url, agent, [task(['read'])]);
    const res = await fetch(`${b.url}/v1/signals`, {
      method: 'POST',
      headers: { authorization: basicAuth(resource), 'content-type': 'application/json' },
      body: JSON.stringify({ grant_id: signalled.grant_id, type: 'task_complete' }),
    });
    expect(res.status).toBe(202);
    expect(await isActive(a.url, resource, signalled.access_token)).toBe(false);

    const swept = await mintToken(a.url, agent, [task(['read'])]);
    const closesAt = Math.floor(Date.now() / 1000) + 2;
    const put = await admin(b.url, 'PUT', '/admin/policies', {
      policies: `${DEFAULT_POLICY}\n@id("change-window-closed")\nforbid (principal, action, resource)\nwhen { context.now.unix > ${closesAt} };\n`,
    });
    expect(put.status, put.text).toBe(200);
    try {
      expect(
        await waitFor(async () => !(await isActive(b.url, resource, swept.access_token)), 8000),
      ).toBe(true);
      const view = await grantView(a.url, swept.grant_id);
      expect(view.status).toBe('revoked');
      const rec = view.history.filter((h) => h.kind === 'reevaluation');
      expect(rec[0]?.reasons).toContain('change-window-closed');
      expect(rec[0]?.inputs.cause).toBe('schedule');
    } finally {
      await admin(b.url, 'PUT', '/admin/policies', { policies: DEFAULT_POLICY });
      // Both brokers take the restored policy from the event bus, a moment later.
      const mints = async (url: string) =>
        (await requestToken(url, agent, [task(['read'])])).status === 200;
      expect(await waitFor(async () => (await mints(a.url)) && mints(b.url), 5000)).toBe(true);
    }
  });

  it('approval_required, an operator approves on the other broker, the agent polls its tokens (CIBA)', async () => {
    const details = [
      {
        type: 'agent_task',
        task_id: `T-${kind}-export`,
        purpose: 'quarterly export',
        actions: ['read', 'export'],
        locations: [CRM],
      },
    ];
    const asked = await requestToken(a.url, agent, details);
    expect(asked.status, asked.text).toBe(400);
    expect(asked.body.error).toBe('approval_required');
    const id = String(asked.body.auth_req_id);
    const decided = await admin(b.url, 'POST', `/admin/approvals/${encodeURIComponent(id)}`, {
      decision: 'approve',
    });
    expect(decided.status, decided.text).toBe(200);
    const poll = await cibaPoller(a.url, agent);
    await sleep(1150);
    const got = await poll(id);
    expect(got.ok, JSON.stringify(got)).toBe(true);
    if (!got.ok) return;
    const token = String(got.tokens.access_token);
    expect(claimsOf(token).authorization_details.flatMap((e) => e.actions)).toContain('export');
    expect(await isActive(b.url, resource, token)).toBe(true);
  });

  it.skipIf(kind !== 'cluster')(
    'spreads the keys used alone over the primaries, beside the grant world',
    async () => {
      await mintToken(a.url, agent, [task(['read'])]);
      const holding = new Set<number>();
      for (const server of topology.servers.filter((s) => s.running)) {
        const direct = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
        await direct.connect();
        try {
          const [role] = (await direct.call('ROLE')) as [string];
          if (role === 'master' && (await direct.dbsize()) > 0) holding.add(server.port);
        } finally {
          direct.disconnect();
        }
      }
      expect(holding.size).toBeGreaterThan(1);
    },
  );

  it('survives the death of the primary holding the grants: a replica is promoted, nothing revoked reads active meanwhile', async () => {
    const before = await mintToken(a.url, agent, [task(['read'])]);
    const revoked = await mintToken(a.url, agent, [task(['read'])]);
    const r = await admin(a.url, 'POST', '/admin/revocations', {
      grant_id: revoked.grant_id,
      reason: 'test',
    });
    expect(r.status, r.text).toBe(200);
    const primary = await topology.primaryOf(a.deps.keys.grant(before.grant_id));
    // A write of our own in the grants' slot, acknowledged by a replica: replication is in
    // order, so the replica holds every earlier write of the brokers too.
    const direct = new Redis({ host: '127.0.0.1', port: primary.port, lazyConnect: true });
    await direct.connect();
    await direct.set(`${a.deps.keys.prefix}ha-test`, '1');
    expect(Number(await direct.call('WAIT', '1', '2000'))).toBeGreaterThanOrEqual(1);
    direct.disconnect();
    const killedAt = Date.now();
    await primary.kill('SIGKILL');
    let activeRevoked = 0;
    const back = await waitFor(
      async () => {
        for (const url of [a.url, b.url]) {
          const seen = await introspect(url, resource, revoked.access_token);
          if (seen.body.active === true) activeRevoked += 1;
        }
        // On the cluster the promoted replica has no replica of its own until the dead node comes
        // back as one: restarted once the slot has moved, so later tests run on a whole cluster.
        if (
          kind === 'cluster' &&
          !primary.running &&
          (await topology.primaryOf(a.deps.keys.grant(before.grant_id))) !== primary
        )
          await primary.restart();
        const t = await mintToken(b.url, agent, [task(['read'])]);
        return isActive(a.url, resource, t.access_token);
      },
      30_000,
      100,
    );
    expect(back).toBe(true);
    // Recorded for the report: how long minting and introspecting stayed unavailable.
    console.info(`${kind}: primary killed, answers resumed after ${Date.now() - killedAt} ms`);
    expect(activeRevoked).toBe(0);
    expect(await isActive(b.url, resource, before.access_token)).toBe(true);
    expect(await isActive(b.url, resource, revoked.access_token)).toBe(false);
    expect(await topology.primaryOf(a.deps.keys.grant(before.grant_id))).not.toBe(primary);
  });

  it('pushes a CAEP session-revoked SET to a registered receiver when a grant is revoked', async () => {
    const receiver = await startReceiver();
    try {
      const reg = await admin(b.url, 'POST', '/admin/receivers', {
        id: `rcv-${kind}`,
        url: receiver.url,
        // Events go to receivers whose audience the grant reached.
        audience: CRM,
      });
      expect(reg.status, reg.text).toBe(201);
      const t = await mintToken(a.url, agent, [task(['read'])]);
      const res = await admin(b.url, 'POST', '/admin/revocations', {
        grant_id: t.grant_id,
        reason: 'test',
      });
      expect(res.status).toBe(200);
      const pushed = await waitFor(
        async () =>
          receiver.sets.some(
            (s) => JSON.stringify(claimsOf(s)).includes(t.grant_id) && s.split('.').length === 3,
          ),
        10_000,
      );
      expect(pushed, JSON.stringify(receiver.sets.map((s) => claimsOf(s)))).toBe(true);
    } finally {
      await new Promise<void>((ok) => receiver.server.close(() => ok()));
    }
  });
});
