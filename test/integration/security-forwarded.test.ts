// Forwarded headers (issue 16 item 5): behind trusted proxies the client is the rightmost untrusted X-Forwarded-For hop, so a spoofed entry neither passes an IP policy nor evades the throttle.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  admin,
  type Credentials,
  createClients,
  type HttpResult,
  oauthPost,
  type TokenBody,
  task,
} from '../support/broker.ts';
import { freshWindow } from '../support/rate-window.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const DEFAULT_POLICY = readFileSync(
  resolve(import.meta.dirname, '../../config/policies/default.cedar'),
  'utf8',
);
const OFFICE_ONLY = `${DEFAULT_POLICY}\n@id("office-only")\nforbid (principal, action, resource) unless { context has ip && context.ip.isInRange(ip("203.0.113.0/24")) };\n`;
const SOURCE_LIMIT = 8;

describe('X-Forwarded-For behind configured trusted proxies', () => {
  let broker: TestBroker;
  let agent: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker({
      // The test connects over loopback: that is the proxy next to Mandate; 10.0.0.0/8 is a proxy tier in front of it.
      config: [
        'server:',
        '  trust_proxy: true',
        '  trusted_proxies: ["127.0.0.1", "::1", "10.0.0.0/8"]',
        'rate_limit:',
        `  auth_failures_per_source_per_minute: ${SOURCE_LIMIT}`,
        '',
      ].join('\n'),
      env: { MANDATE_LOG_LEVEL: 'silent' },
    });
    ({ agent } = await createClients(broker.url));
    const put = await admin(broker.url, 'PUT', '/admin/policies', { policies: OFFICE_ONLY });
    expect(put.status, put.text).toBe(200);
  });
  afterAll(async () => {
    await broker?.close();
  });

  const mintVia = (xff: string) =>
    oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: JSON.stringify([task(['read'])]) },
      agent,
      'basic',
      {
        'x-forwarded-for': xff,
      },
    ) as Promise<HttpResult<TokenBody & Record<string, unknown>>>;

  const contextIp = async (grantId: string) =>
    (await admin<{ context: { ip?: string } }>(broker.url, 'GET', `/admin/grants/${grantId}`)).body
      .context.ip;

  it('the policy sees the address the proxy appended, not one the agent wrote', async () => {
    // An agent inside the office range, through the proxy: permitted, and recorded as such.
    const office = await mintVia('203.0.113.5');
    expect(office.status, office.text).toBe(200);
    expect(await contextIp(office.body.grant_id)).toBe('203.0.113.5');

    // An agent at 198.51.100.9 sends "X-Forwarded-For: 203.0.113.5"; the proxy appends its real address.
    const spoofed = await mintVia('203.0.113.5, 198.51.100.9');
    expect(spoofed.status, spoofed.text).toBe(400);
    expect(spoofed.body.error).toBe('access_denied');
    expect(spoofed.body).not.toHaveProperty('access_token');

    // Through a second trusted proxy tier the client is still found, whatever the agent put in front of it.
    const tiered = await mintVia('198.51.100.1, 203.0.113.7, 10.1.2.3');
    expect(tiered.status, tiered.text).toBe(200);
    expect(await contextIp(tiered.body.grant_id)).toBe('203.0.113.7');

    // A malformed hop stops the walk at the last trustworthy address (the proxy), never further left.
    const malformed = await mintVia('203.0.113.5, not-an-ip');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('access_denied');

    // IPv4-mapped and bracketed forms are the same address to the policy.
    const mapped = await mintVia('[::ffff:203.0.113.8]:4711');
    expect(mapped.status, mapped.text).toBe(200);
    expect(await contextIp(mapped.body.grant_id)).toBe('203.0.113.8');
  });

  it('rotating the leftmost entry does not evade the failed-authentication throttle', async () => {
    await freshWindow();
    const statuses: number[] = [];
    for (let i = 0; i < SOURCE_LIMIT + 4; i++) {
      const res = await fetch(`${broker.url}/admin/clients`, {
        headers: {
          authorization: `Bearer guess-${i}-0123456789abcdef`,
          'x-forwarded-for': `192.0.2.${i + 1}, 198.51.100.50`,
        },
      });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([...Array(SOURCE_LIMIT).fill(401), ...Array(4).fill(429)]);
    // The admin, already seen to succeed, is not locked out at that address.
    const ok = await fetch(`${broker.url}/admin/clients`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-forwarded-for': '198.51.100.50' },
    });
    expect(ok.status).toBe(200);
  });
});

describe('X-Forwarded-For without trust_proxy', () => {
  let broker: TestBroker;
  let agent: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker({
      env: { MANDATE_LOG_LEVEL: 'silent' },
    });
    ({ agent } = await createClients(broker.url));
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('is ignored: the socket peer is the client', async () => {
    const res = await oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: JSON.stringify([task(['read'])]) },
      agent,
      'basic',
      {
        'x-forwarded-for': '203.0.113.5',
      },
    );
    expect(res.status, res.text).toBe(200);
    const grant = await admin<{ context: { ip?: string } }>(
      broker.url,
      'GET',
      `/admin/grants/${res.body.grant_id as string}`,
    );
    expect(grant.body.context.ip).toBe('127.0.0.1');
  });
});
