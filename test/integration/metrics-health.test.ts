// Health, readiness and Prometheus metrics; and a spawned broker's logs never carry a secret or a token.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ADMIN_TOKEN,
  admin,
  createClients,
  deleteKeysUnder,
  introspect,
  mintToken,
  oauthPost,
  refresh,
  requestToken,
  task,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

/** The value of one Prometheus sample line, e.g. `name{a="b"}`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('health, readiness and metrics', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startTestBroker();
  });

  afterAll(async () => {
    await broker?.close();
  });

  it('GET /healthz is 200', async () => {
    const res = await fetch(`${broker.url}/healthz`);
    expect(res.status).toBe(200);
  });

  it('GET /readyz is 200 with its checks', async () => {
    const res = await fetch(`${broker.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checks: Record<string, boolean> };
    expect(body.checks).toMatchObject({ redis: true, keys: true, policy: true });
  });

  it('GET /metrics counts requests and minted tokens', async () => {
    const before = await (await fetch(`${broker.url}/metrics`)).text();
    const mintedBefore =
      sample(before, 'mandate_tokens_minted_total', { grant_type: 'client_credentials' }) ?? 0;
    const { agent } = await createClients(broker.url);
    await mintToken(broker.url, agent, [task(['read'])]);
    const res = await fetch(`${broker.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE mandate_http_requests_total counter');
    expect(text).toContain('# TYPE mandate_tokens_minted_total counter');
    expect(sample(text, 'mandate_tokens_minted_total', { grant_type: 'client_credentials' })).toBe(
      mintedBefore + 1,
    );
    expect(
      sample(text, 'mandate_http_requests_total', {
        route: '/oauth/token',
        method: 'POST',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'mandate_http_requests_total', {
        route: '/admin/clients',
        method: 'POST',
        status: '201',
      }),
    ).toBeGreaterThanOrEqual(2);
  });
});

describe('logs of a spawned broker process', () => {
  let proc: BrokerProcess;
  const prefix = uniquePrefix('logs');
  const redisUrl = inject('redisUrl');

  beforeAll(async () => {
    // Debug level: every request line is logged, so the check covers the most output.
    proc = await spawnBrokerProcess({ redisUrl, prefix, env: { MANDATE_LOG_LEVEL: 'debug' } });
  });

  afterAll(async () => {
    await proc?.stop();
    await deleteKeysUnder(redisUrl, prefix);
  });

  it('writes JSON log lines and never a secret or a token', async () => {
    const base = proc.url;
    const { agent, resource } = await createClients(base);
    const secrets: string[] = [ADMIN_TOKEN, agent.client_secret, resource.client_secret];

    const tr = await mintToken(base, agent, [task(['read', 'export'])]);
    const next = await refresh(base, agent, tr.refresh_token);
    expect(next.status).toBe(200);
    await refresh(base, agent, tr.refresh_token); // a replay, logged as a revocation
    await introspect(base, resource, next.body.access_token);
    const wrong = 'wrong-secret-that-must-not-be-logged-0123456789';
    await oauthPost(
      base,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: '[]' },
      { client_id: agent.client_id, client_secret: wrong },
    );
    await oauthPost(
      base,
      '/oauth/token',
      { grant_type: 'client_credentials', authorization_details: '[]' },
      { client_id: agent.client_id, client_secret: wrong },
      'post',
    );
    const second = await mintToken(base, agent, [task(['read'])]);
    await oauthPost(base, '/oauth/revoke', { token: second.access_token }, agent);
    await oauthPost(base, '/oauth/revoke', { token: second.refresh_token }, agent);
    await requestToken(base, agent, [task(['write'], { taskId: 'T-denied-in-logs' })]).then(
      (r) => r.status,
    );
    await admin(base, 'GET', '/admin/clients', undefined, 'wrong-admin-token-must-not-be-logged');
    await admin(base, 'GET', `/admin/grants/${tr.grant_id}`);
    await admin(base, 'GET', '/admin/decisions?limit=50');
    // Let the last log lines reach the pipe.
    await new Promise((ok) => setTimeout(ok, 300));

    const out = proc.output();
    expect(out).toContain('mandate listening on');
    const jsonLines = out.split('\n').filter((l) => l.startsWith('{'));
    expect(jsonLines.length).toBeGreaterThan(5);
    for (const line of jsonLines) expect(() => JSON.parse(line)).not.toThrow();

    const sensitive = [
      ...secrets,
      wrong,
      'wrong-admin-token-must-not-be-logged',
      ...[tr, next.body, second].flatMap((t) => [
        t.access_token,
        t.access_token.split('.')[2] as string,
        t.refresh_token,
        t.refresh_token.split('.')[2] as string,
      ]),
    ];
    const leaks = sensitive.filter((s) => out.includes(s));
    expect(leaks).toEqual([]);

    // Nor do the decision records the admin API serves.
    const decisions = await admin(base, 'GET', '/admin/decisions?limit=1000');
    expect(sensitive.filter((s) => decisions.text.includes(s))).toEqual([]);
  });
});
