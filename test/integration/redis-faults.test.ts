// Redis crashes and outages: revocations survive a kill -9, the broker fails closed while Redis is gone, and recovers.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  introspect,
  isActive,
  mintToken,
  requestToken,
  type TokenBody,
  task,
  waitFor,
} from '../support/broker.ts';
import { RedisServer } from '../support/redis-server.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { privateBroker, type TestBroker } from '../support/test-broker.ts';

const jtiOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti as string;

/** True once the broker's own request-path connection answers again. */
async function redisReady(broker: TestBroker): Promise<boolean> {
  const res = await fetch(`${broker.url}/readyz`);
  const body = (await res.json()) as { checks?: { redis?: boolean } };
  return res.status === 200 && body.checks?.redis === true;
}

describe('Redis kill -9 after a revocation', () => {
  const s = privateBroker();

  it('the revocation survives: the token is still inactive after Redis replays its AOF', async () => {
    const { broker: b, agent, resource } = s;
    const byJti = await mintToken(b.url, agent, [task(['read'])]);
    const byGrant = await mintToken(b.url, agent, [task(['read'])]);
    const control = await mintToken(b.url, agent, [task(['read'])]);

    const one = await admin(b.url, 'POST', '/admin/revocations', {
      jti: jtiOf(byJti.access_token),
      reason: 'crash test',
    });
    expect(one.status).toBe(200);
    const two = await admin(b.url, 'POST', '/admin/revocations', {
      grant_id: byGrant.grant_id,
      reason: 'crash test',
    });
    expect(two.status).toBe(200);
    await s.redis.kill('SIGKILL');
    await s.redis.restart();

    expect(await waitFor(() => redisReady(b), 10_000)).toBe(true);
    // The control shows the broker is checking again (an outage would make it inactive too).
    expect(await isActive(b.url, resource, control.access_token)).toBe(true);
    expect(await isActive(b.url, resource, byJti.access_token)).toBe(false);
    expect(await isActive(b.url, resource, byGrant.access_token)).toBe(false);
    const grant = await admin<{ status: string }>(
      b.url,
      'GET',
      `/admin/grants/${byGrant.grant_id}`,
    );
    expect(grant.body.status).toBe('revoked');
  });
});

describe('Redis down', () => {
  const s = privateBroker();
  let tr: TokenBody;

  beforeAll(async () => {
    tr = await mintToken(s.broker.url, s.agent, [task(['read'])]);
    expect(await isActive(s.broker.url, s.resource, tr.access_token)).toBe(true);
    await s.redis.kill('SIGKILL');
  });

  it('introspection answers 200 {active:false} and the token endpoint 503 temporarily_unavailable', async () => {
    const b = s.broker;
    const info = await introspect(b.url, s.resource, tr.access_token);
    expect(info.status).toBe(200);
    expect(info.body).toEqual({ active: false });

    const denied = await requestToken(b.url, s.agent, [task(['read'])]);
    expect(denied.status).toBe(503);
    expect(denied.body.error).toBe('temporarily_unavailable');
    expect(denied.body).not.toHaveProperty('access_token');
    expect(denied.headers.get('retry-after')).not.toBeNull();

    expect((await fetch(`${b.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
  });

  it('introspection still answers 200 {active:false} once the caller is no longer cached', async () => {
    // The client store caches a client for 5 s; past that, authenticating the caller needs Redis too.
    await sleep(5200);
    const late = await introspect(s.broker.url, s.resource, tr.access_token);
    expect(late.body.active).not.toBe(true);
    expect(late.status).toBe(200);
    expect(late.body).toEqual({ active: false });
    const lateToken = await requestToken(s.broker.url, s.agent, [task(['read'])]);
    expect(lateToken.status).toBe(503);
    expect(lateToken.body.error).toBe('temporarily_unavailable');
  });

  it('recovers within 10 s once Redis is back', async () => {
    await s.redis.restart();
    const start = Date.now();
    const works = await waitFor(
      async () => (await requestToken(s.broker.url, s.agent, [task(['read'])])).status === 200,
      10_000,
      200,
    );
    expect(works).toBe(true);
    expect(Date.now() - start).toBeLessThan(10_000);
    // The token minted before the outage is live again (the AOF kept its grant).
    expect(await isActive(s.broker.url, s.resource, tr.access_token)).toBe(true);
  });
});

describe('logs while Redis is down', () => {
  let redis: RedisServer | undefined;
  let proc: BrokerProcess | undefined;

  afterAll(async () => {
    if (redis && !redis.running) await redis.restart();
    await proc?.stop();
    await redis?.stop();
  });

  it('a broker process keeps writing JSON lines only (no raw stack traces)', async () => {
    redis = await RedisServer.start({ appendonly: true });
    proc = await spawnBrokerProcess({ redisUrl: redis.url, prefix: 't:logs-outage:' });
    await redis.kill('SIGKILL');
    // Reconnect attempts run for a while; a request on the outage path too.
    await fetch(`${proc.url}/readyz`);
    await sleep(1500);
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('mandate listening on'));
    const notJson = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(notJson.slice(0, 5)).toEqual([]);
  });
});
