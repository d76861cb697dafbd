// CAEP confidentiality and isolation: receivers hear only of grants on their audience, one hanging receiver holds up no other, targets are checked.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../../src/config/load-config.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { createRedisReceiverStore } from '../../src/store/redis-receiver-store.ts';
import {
  admin,
  type Credentials,
  createClients,
  mintToken,
  task,
  waitFor,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const POLICY = `policy: { dir: ${JSON.stringify(resolve(ROOT, 'config/policies'))}, schema: ${JSON.stringify(resolve(ROOT, 'config/schema.cedarschema'))} }`;
const A = 'https://a.example.com';
const B = 'https://b.example.com';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';
/** Read anywhere; write only on A: a grant with write on A and B narrows to write on A. */
const WRITE_ONLY_ON_A = `@id("read") permit (principal, action == Action::"read", resource);
@id("write-a") permit (principal, action == Action::"write", resource == Resource::"${A}");
`;

interface Claims {
  readonly aud: string;
  readonly events: Record<
    string,
    {
      subject: { id: string };
      claims?: { authorization_details: Array<{ actions: string[]; locations: string[] }> };
    }
  >;
}

/** A local RFC 8935 receiver; `hang` makes it read every push and never answer. */
class Receiver {
  readonly pushes: Array<{ atMs: number; claims: Claims }> = [];
  private server: Server | undefined;
  constructor(private readonly hang = false) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const [, payload] = body.split('.');
        this.pushes.push({
          atMs: Date.now(),
          claims: JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Claims,
        });
        if (this.hang) return;
        res.writeHead(202);
        res.end();
      });
    });
    await new Promise<void>((ok) => this.server?.listen(0, '127.0.0.1', () => ok()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  about(grantId: string) {
    return this.pushes.filter((p) =>
      Object.values(p.claims.events).some((e) => e.subject.id === grantId),
    );
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}

const redisUrl = inject('redisUrl');
const started: TestBroker[] = [];
const receivers: Receiver[] = [];

async function start(
  yaml: string,
  opts: { api?: boolean; worker?: boolean; prefix?: string } = {},
) {
  const broker = await startTestBroker({
    name: 'caep-aud',
    config: `${POLICY}\n${yaml}\n`,
    api: opts.api ?? true,
    worker: opts.worker ?? true,
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
  });
  started.push(broker);
  return { mandate: broker.mandate, base: broker.url, prefix: broker.prefix };
}

async function receiver(hang = false) {
  const r = new Receiver(hang);
  receivers.push(r);
  return { r, url: await r.listen() };
}

afterAll(async () => {
  for (const r of receivers) await r.close();
  // The last started first: a broker that shares another's prefix stops before that one deletes its keys.
  for (const b of started.reverse()) await b.close();
});

describe('delivery by audience, isolated per receiver', () => {
  let base: string;
  let agent: Credentials;
  let mandate: TestBroker['mandate'];

  beforeAll(async () => {
    // A long per-push timeout and two pushes per receiver: a hang would hold any shared slot for
    // long. A small backlog: a dead receiver's events stop piling up.
    ({ base, mandate } = await start(
      'caep: { allow_http: true, allow_private_targets: true, delivery_timeout_ms: 15000, concurrency_per_receiver: 2, max_backlog_per_receiver: 5 }',
    ));
    ({ agent } = await createClients(base, { groups: ['writers'], resources: [A, B] }));
  });

  const register = async (id: string, url: string, audience: string) => {
    const res = await admin(base, 'POST', '/admin/receivers', { id, url, audience });
    expect(res.status).toBe(201);
  };
  const revoke = async (grantId: string) => {
    expect(
      (
        await admin(base, 'POST', '/admin/revocations', {
          grant_id: grantId,
          reason: 'audience test',
        })
      ).status,
    ).toBe(200);
  };

  it('tells a revocation of a grant on A to the receiver of A only', async () => {
    const x = await receiver();
    const y = await receiver();
    await register('x-rev', x.url, A);
    await register('y-rev', y.url, B);
    const onA = await mintToken(base, agent, [task(['read'], { locations: [A] })]);
    const onB = await mintToken(base, agent, [task(['read'], { locations: [B] })]);
    await revoke(onA.grant_id);
    await revoke(onB.grant_id);
    expect(
      await waitFor(
        async () => x.r.about(onA.grant_id).length > 0 && y.r.about(onB.grant_id).length > 0,
        5000,
      ),
    ).toBe(true);
    await sleep(1000);
    expect(x.r.about(onB.grant_id)).toHaveLength(0);
    expect(y.r.about(onA.grant_id)).toHaveLength(0);
    expect(x.r.pushes.every((p) => p.claims.aud === A)).toBe(true);
    expect(Object.keys(x.r.about(onA.grant_id)[0]?.claims.events ?? {})).toEqual([SESSION_REVOKED]);
    // A grant on both reaches both.
    const onBoth = await mintToken(base, agent, [task(['read'], { locations: [A, B] })]);
    await revoke(onBoth.grant_id);
    expect(
      await waitFor(
        async () => x.r.about(onBoth.grant_id).length > 0 && y.r.about(onBoth.grant_id).length > 0,
        5000,
      ),
    ).toBe(true);
    await admin(base, 'DELETE', '/admin/receivers/x-rev');
    await admin(base, 'DELETE', '/admin/receivers/y-rev');
  });

  it("shows each receiver of a narrowing only its own audience's pairs", async () => {
    const x = await receiver();
    const y = await receiver();
    await register('x-narrow', x.url, A);
    await register('y-narrow', y.url, B);
    const token = await mintToken(base, agent, [task(['read', 'write'], { locations: [A, B] })]);
    const defaults = await admin<{ policies: string }>(base, 'GET', '/admin/policies');
    try {
      expect(
        (await admin(base, 'PUT', '/admin/policies', { policies: WRITE_ONLY_ON_A })).status,
      ).toBe(200);
      expect(
        await waitFor(
          async () => x.r.about(token.grant_id).length > 0 && y.r.about(token.grant_id).length > 0,
          10_000,
        ),
      ).toBe(true);
    } finally {
      expect(
        (await admin(base, 'PUT', '/admin/policies', { policies: defaults.body.policies })).status,
      ).toBe(200);
    }
    const detailsOf = (r: Receiver) =>
      r.about(token.grant_id)[0]?.claims.events[CLAIMS_CHANGE]?.claims?.authorization_details ?? [];
    const seenByX = detailsOf(x.r);
    const seenByY = detailsOf(y.r);
    expect(seenByX.flatMap((e) => e.locations)).toEqual(expect.arrayContaining([A]));
    expect(seenByX.every((e) => e.locations.length === 1 && e.locations[0] === A)).toBe(true);
    expect(seenByX.flatMap((e) => e.actions).sort()).toEqual(['read', 'write']);
    expect(seenByY.every((e) => e.locations.length === 1 && e.locations[0] === B)).toBe(true);
    expect(seenByY.flatMap((e) => e.actions)).toEqual(['read']);
    // Neither SET names the other audience anywhere.
    expect(JSON.stringify(x.r.about(token.grant_id)[0]?.claims)).not.toContain(B);
    expect(JSON.stringify(y.r.about(token.grant_id)[0]?.claims)).not.toContain(A);
    await admin(base, 'DELETE', '/admin/receivers/x-narrow');
    await admin(base, 'DELETE', '/admin/receivers/y-narrow');
  });

  it('delivers to a fast receiver within seconds while another one hangs', async () => {
    const slow = await receiver(true);
    const fast = await receiver();
    await register('slow-b', slow.url, B);
    await register('fast-a', fast.url, A);
    // Many more hanging pushes for the slow receiver than it has slots: in one shared pool (8 slots
    // before) they would queue ahead of the fast receiver's event for several timeouts.
    const onB = await Promise.all(
      Array.from({ length: 20 }, () =>
        mintToken(base, agent, [task(['read'], { locations: [B] })]),
      ),
    );
    for (const t of onB) await revoke(t.grant_id);
    expect(await waitFor(async () => slow.r.pushes.length >= 2, 5000)).toBe(true);
    const onA = await mintToken(base, agent, [task(['read'], { locations: [A] })]);
    const revokedAt = Date.now();
    await revoke(onA.grant_id);
    expect(await waitFor(async () => fast.r.about(onA.grant_id).length > 0, 5000)).toBe(true);
    const [push] = fast.r.about(onA.grant_id);
    expect((push?.atMs ?? Number.POSITIVE_INFINITY) - revokedAt).toBeLessThan(5000);
    // The slow one is still hanging on its first pushes.
    expect(slow.r.pushes.length).toBeLessThanOrEqual(2);
    // Its backlog stopped at the cap: the rest were dropped and counted.
    const counted = await mandate.deps.metrics.registry.getSingleMetricAsString(
      'mandate_caep_events_total',
    );
    const dropped = Number(
      /receiver="slow-b",outcome="dropped_backlog"} (\d+)/.exec(counted)?.[1] ?? 0,
    );
    expect(dropped).toBeGreaterThanOrEqual(20 - 2 - 5);
    // Deleting the hanging receiver does not hold up one registered next.
    await admin(base, 'DELETE', '/admin/receivers/fast-a');
    await admin(base, 'DELETE', '/admin/receivers/slow-b');
    const next = await receiver();
    await register('next-a', next.url, A);
    const again = await mintToken(base, agent, [task(['read'], { locations: [A] })]);
    await revoke(again.grant_id);
    expect(await waitFor(async () => next.r.about(again.grant_id).length > 0, 5000)).toBe(true);
    await admin(base, 'DELETE', '/admin/receivers/next-a');
  });
});

describe('receiver targets under the default config (https, public addresses only)', () => {
  let base: string;
  let strictPrefix: string;
  let strict: TestBroker['mandate'];

  beforeAll(async () => {
    ({ base, prefix: strictPrefix, mandate: strict } = await start(''));
  });

  it.each([
    ['plain http', 'http://rs.example.com/caep'],
    ['loopback', 'https://127.0.0.1:8443/caep'],
    ['loopback as one number', 'https://2130706433/caep'],
    ['IPv6 loopback', 'https://[::1]/caep'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/caep'],
    ['the metadata address', 'https://169.254.169.254/latest/meta-data'],
    ['a private address', 'https://10.0.0.8/caep'],
    ['a unique-local address', 'https://[fd00::8]/caep'],
    ['the unspecified address', 'https://0.0.0.0/caep'],
    ['localhost', 'https://localhost/caep'],
    ['credentials in the URL', 'https://user:pw@rs.example.com/caep'],
  ])('refuses %s with problem+json 400 and stores nothing', async (_name, url) => {
    const res = await admin(base, 'POST', '/admin/receivers', { id: 'refused', url, audience: A });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.text).not.toContain('pw@');
    const list = await admin<{ receivers: unknown[] }>(base, 'GET', '/admin/receivers');
    expect(list.body.receivers).toEqual([]);
  });

  it('accepts https to a public name', async () => {
    const res = await admin(base, 'POST', '/admin/receivers', {
      id: 'public',
      url: 'https://rs.example.com/caep',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: 'public',
      url: 'https://rs.example.com/caep',
      audience: 'https://rs.example.com/caep',
      events: ['session-revoked', 'token-claims-change'],
      has_authorization: false,
    });
    expect((await admin(base, 'DELETE', '/admin/receivers/public')).status).toBe(200);
  });

  it('refuses a config file listing a loopback http receiver without the allow flags', async () => {
    const loopbackReceiver = `${POLICY}\nreceivers:\n  - { id: local, url: "http://127.0.0.1:9/events" }\n`;
    await expect(
      startTestBroker({ api: false, prefix: strictPrefix, config: loopbackReceiver }),
    ).rejects.toThrow(ConfigError);
    await expect(
      startTestBroker({ api: false, prefix: strictPrefix, config: loopbackReceiver }),
    ).rejects.toThrow(/receivers\.0\.url: must be an https URL/);
  });

  it('checks the target again at delivery: a stored loopback receiver is never pushed to', async () => {
    const r = await receiver();
    // Stored directly, as one registered before these checks or under a config that allowed it.
    const redis = new Redis(redisUrl);
    try {
      await createRedisReceiverStore(redis, createKeyNames(strictPrefix)).put({
        id: 'stored-local',
        url: r.url.replace('http:', 'https:'),
        audience: A,
        events: ['session-revoked'],
      });
    } finally {
      redis.disconnect();
    }
    const { agent } = await createClients(base, { groups: ['writers'], resources: [A] });
    const token = await mintToken(base, agent, [task(['read'], { locations: [A] })]);
    expect(
      (
        await admin(base, 'POST', '/admin/revocations', {
          grant_id: token.grant_id,
          reason: 'target test',
        })
      ).status,
    ).toBe(200);
    const refused = async () => {
      const text = await strict.deps.metrics.registry.getSingleMetricAsString(
        'mandate_caep_events_total',
      );
      return /receiver="stored-local",outcome="target_refused"} 1/.test(text);
    };
    expect(await waitFor(refused, 5000)).toBe(true);
    expect(r.r.pushes).toHaveLength(0);
  });
});
