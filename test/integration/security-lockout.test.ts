// Lockout as a weapon (issue 16 item 3): others' failures never refuse correct credentials, while guessers and sprayers get 429 before any comparison.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  basicAuth,
  type Credentials,
  createClient,
  createClients,
  introspect,
  mintToken,
  oauthPost,
  task,
} from '../support/broker.ts';
import { freshWindow } from '../support/rate-window.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const LIMIT = 5;
const SOURCE_LIMIT = 10;

/** Sources as the trusted proxy in front of Mandate (the test's own loopback connection) reports them. */
const from = (ip: string) => ({ 'x-forwarded-for': ip });

describe('failed authentications throttle the guesser, not the victim', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let token: string;

  beforeAll(async () => {
    broker = await startTestBroker({
      config: [
        'server:',
        '  trust_proxy: true',
        '  trusted_proxies: ["127.0.0.1", "::1"]',
        'rate_limit:',
        `  auth_failures_per_minute: ${LIMIT}`,
        `  auth_failures_per_source_per_minute: ${SOURCE_LIMIT}`,
        '',
      ].join('\n'),
      env: { MANDATE_LOG_LEVEL: 'silent' },
    });
    ({ agent, resource } = await createClients(broker.url));
    token = (await mintToken(broker.url, agent, [task(['read'])])).access_token;
  });
  beforeEach(freshWindow);
  afterAll(async () => {
    await broker?.close();
  });

  const introspectFrom = (creds: Credentials, ip: string) =>
    oauthPost(broker.url, '/oauth/introspect', { token }, creds, 'basic', from(ip));
  const adminFrom = async (ip: string) => {
    const res = await fetch(`${broker.url}/admin/clients`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...from(ip) },
    });
    await res.arrayBuffer();
    return res;
  };

  it('(a) 20+ wrong secrets for a resource server from A: its correct credentials work from B, and are refused from A before comparison', async () => {
    const A = '198.51.100.10';
    const B = '203.0.113.20';
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      const guess = {
        client_id: resource.client_id,
        client_secret: `guess-${i}-${'x'.repeat(40)}`,
      };
      statuses.push((await introspectFrom(guess, A)).status);
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(401), ...Array(22 - LIMIT).fill(429)]);

    const fromB = await introspectFrom(resource, B);
    expect(fromB.status).toBe(200);
    expect(fromB.body.active).toBe(true);
    // Without a forwarded header the client is the proxy itself: another source, also unaffected.
    expect((await introspect(broker.url, resource, token)).body.active).toBe(true);

    // From A the pair is refused whatever the secret: the right one gets the same 429 as a guess.
    const fromA = await introspectFrom(resource, A);
    expect(fromA.status).toBe(429);
    expect(fromA.body.error).toBe('temporarily_unavailable');
    expect(Number(fromA.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another client from A is not refused: A has not reached its own (source) limit.
    const other = await createClient(broker.url, {
      name: 'other resource',
      kind: 'resource',
      resources: ['https://crm.example.com'],
    });
    expect((await introspectFrom(other, A)).status).toBe(200);
  });

  it('(b) many failed logins from A: the admin token that worked before still works from A, and from B', async () => {
    const A = '198.51.100.20';
    const B = '203.0.113.30';
    // The admin works from A before the attack.
    expect((await adminFrom(A)).status).toBe(200);
    // A client that has never authenticated through this process yet.
    const fresh = await createClient(broker.url, {
      name: 'fresh resource',
      kind: 'resource',
      resources: ['https://crm.example.com'],
    });

    const statuses: number[] = [];
    for (let i = 0; i < SOURCE_LIMIT + 5; i++) {
      // Admin bearer guesses and client guesses from the same address both count for it.
      const res =
        i % 2 === 0
          ? await fetch(`${broker.url}/admin/clients`, {
              headers: { authorization: `Bearer guess-${i}-0123456789abcdef`, ...from(A) },
            })
          : await fetch(`${broker.url}/oauth/introspect`, {
              method: 'POST',
              headers: {
                'content-type': 'application/x-www-form-urlencoded',
                authorization: basicAuth({ client_id: `id-${i}`, client_secret: 'x'.repeat(43) }),
                ...from(A),
              },
              body: new URLSearchParams({ token }).toString(),
            });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([...Array(SOURCE_LIMIT).fill(401), ...Array(5).fill(429)]);

    // The admin's token is the exact credential seen to succeed: it passes A's block, and B was never blocked.
    expect((await adminFrom(A)).status).toBe(200);
    expect((await adminFrom(B)).status).toBe(200);
    // A resource server already working (it succeeded in test a) keeps working from A too.
    expect((await introspectFrom(resource, A)).body.active).toBe(true);
    // A credential this process has not seen succeed is refused at A before it is compared...
    expect((await introspectFrom(fresh, A)).status).toBe(429);
    // ... and once it has worked from elsewhere, it passes A's block as well.
    expect((await introspectFrom(fresh, B)).status).toBe(200);
    expect((await introspectFrom(fresh, A)).status).toBe(200);
    // A guess at A is still refused (and is not compared).
    const guess = await fetch(`${broker.url}/admin/clients`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}x`, ...from(A) },
    });
    expect(guess.status).toBe(429);
    expect(guess.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('(c) an unauthenticated source spraying random client ids gets 429 at the source limit', async () => {
    const C = '192.0.2.40';
    const statuses: number[] = [];
    for (let i = 0; i < SOURCE_LIMIT + 5; i++) {
      const res = await oauthPost(
        broker.url,
        '/oauth/token',
        {
          grant_type: 'client_credentials',
          authorization_details: JSON.stringify([task(['read'])]),
        },
        {
          client_id: `spray-${i}-${Math.random().toString(36).slice(2)}`,
          client_secret: `s-${i}-${'y'.repeat(40)}`,
        },
        'post',
        from(C),
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(SOURCE_LIMIT).fill(401), ...Array(5).fill(429)]);
    // A valid agent that never authenticated through this process is refused there before comparison, not elsewhere.
    const newcomer = await createClient(broker.url, { name: 'newcomer', kind: 'agent' });
    const details = JSON.stringify([task(['read'])]);
    expect(
      (
        await oauthPost(
          broker.url,
          '/oauth/token',
          { grant_type: 'client_credentials', authorization_details: details },
          newcomer,
          'basic',
          from(C),
        )
      ).status,
    ).toBe(429);
    expect(
      (
        await oauthPost(
          broker.url,
          '/oauth/token',
          { grant_type: 'client_credentials', authorization_details: details },
          newcomer,
          'basic',
          from('192.0.2.41'),
        )
      ).status,
    ).toBe(200);
    // The same source over IPv6: rotating addresses inside one /64 is one source.
    const v6: number[] = [];
    for (let i = 0; i < SOURCE_LIMIT + 2; i++) {
      const res = await fetch(`${broker.url}/admin/clients`, {
        headers: {
          authorization: `Bearer guess-${i}-0123456789abcdef`,
          ...from(`2001:db8:40:1::${(i + 1).toString(16)}`),
        },
      });
      v6.push(res.status);
      await res.arrayBuffer();
    }
    expect(v6).toEqual([...Array(SOURCE_LIMIT).fill(401), ...Array(2).fill(429)]);

    // Refusals and failures are counted for operators (never per client id as a label).
    const metrics = await (await fetch(`${broker.url}/metrics`)).text();
    expect(metrics).toMatch(/mandate_rate_limited_total\{rule="source"\} [1-9]/);
    expect(metrics).toMatch(/mandate_rate_limited_total\{rule="client_source"\} [1-9]/);
    expect(metrics).toMatch(/mandate_auth_failures_total\{credential="client"\} [1-9]/);
  });
});
