// Client-authentication abuse on every authenticated endpoint, cross-client revocation, brute force and token floods (429), and over-wide requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClient,
  createClients,
  type HttpResult,
  isActive,
  mintToken,
  oauthPost,
  requestToken,
  type TokenBody,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

type Shape = 'oauth' | 'authzen' | 'problem';

interface Route {
  readonly method: string;
  readonly path: string;
  readonly shape: Shape;
  /** Basic/body client credentials, or an admin bearer. */
  readonly auth: 'client' | 'admin';
  /** A body that would be accepted from an authenticated caller. */
  readonly body: () => { type: string; text: string };
}

const form = (p: Record<string, string>) => () => ({
  type: 'application/x-www-form-urlencoded',
  text: new URLSearchParams(p).toString(),
});
const json = (v: unknown) => () => ({ type: 'application/json', text: JSON.stringify(v) });

async function send(
  base: string,
  route: Route,
  headers: Record<string, string>,
  body = route.body(),
): Promise<HttpResult> {
  const res = await fetch(`${base}${route.path}`, {
    method: route.method,
    headers: { 'content-type': body.type, ...headers },
    body: route.method === 'GET' ? undefined : body.text,
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** The endpoint's own refusal shape for `status`. */
function expectShape(res: HttpResult, shape: Shape, status: number, label: string) {
  expect(res.status, label).toBe(status);
  if (shape === 'oauth') {
    expect(res.headers.get('content-type'), label).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control'), label).toBe('no-store');
    expect(res.body.error, label).toBe(
      status === 401
        ? 'invalid_client'
        : status === 429
          ? 'temporarily_unavailable'
          : res.body.error,
    );
    expect(res.body, label).not.toHaveProperty('access_token');
    expect(res.body, label).not.toHaveProperty('active', true);
  } else if (shape === 'authzen') {
    expect(res.body.decision, label).toBe(false);
    expect(
      (res.body.context as { reason_admin?: { code?: string } })?.reason_admin?.code,
      label,
    ).toBeTypeOf('string');
  } else {
    expect(res.headers.get('content-type'), label).toMatch(/^application\/problem\+json/);
    expect(res.body.status, label).toBe(status);
  }
  if (status === 401) expect(res.headers.get('www-authenticate'), label).not.toBeNull();
}

function evaluation(agentId: string, token: string) {
  return {
    subject: { type: 'agent', id: agentId, properties: { token } },
    action: { name: 'read' },
    resource: { type: 'resource', id: CRM },
  };
}

describe('wrong, missing and foreign credentials on every authenticated endpoint', () => {
  let broker: TestBroker;
  let other: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let foreign: Credentials;
  let valid: TokenBody;
  let routes: Route[];

  beforeAll(async () => {
    // Generous limits: this block counts failures on purpose, the limiter has its own block below.
    const config = 'rate_limit:\n  auth_failures_per_minute: 100000\n';
    broker = await startTestBroker({ config });
    other = await startTestBroker({ config });
    ({ agent, resource } = await createClients(broker.url));
    // A valid client of another Mandate (another prefix on the same Redis): unknown here.
    foreign = (await createClients(other.url)).resource;
    valid = await mintToken(broker.url, agent, [task(['read'])]);
    routes = [
      {
        method: 'POST',
        path: '/oauth/token',
        shape: 'oauth',
        auth: 'client',
        body: form({
          grant_type: 'client_credentials',
          authorization_details: JSON.stringify([task(['read'])]),
        }),
      },
      {
        method: 'POST',
        path: '/oauth/introspect',
        shape: 'oauth',
        auth: 'client',
        body: form({ token: valid.access_token }),
      },
      {
        method: 'POST',
        path: '/oauth/revoke',
        shape: 'oauth',
        auth: 'client',
        body: form({ token: valid.access_token }),
      },
      {
        method: 'POST',
        path: '/access/v1/evaluation',
        shape: 'authzen',
        auth: 'client',
        body: json(evaluation(agent.client_id, valid.access_token)),
      },
      {
        method: 'POST',
        path: '/access/v1/evaluations',
        shape: 'authzen',
        auth: 'client',
        body: json({ evaluations: [evaluation(agent.client_id, valid.access_token)] }),
      },
      {
        method: 'POST',
        path: '/v1/signals',
        shape: 'problem',
        auth: 'client',
        body: json({ grant_id: valid.grant_id, type: 'ip_changed' }),
      },
      { method: 'GET', path: '/admin/clients', shape: 'problem', auth: 'admin', body: json({}) },
      {
        method: 'POST',
        path: '/admin/clients',
        shape: 'problem',
        auth: 'admin',
        body: json({ name: 'x', kind: 'agent' }),
      },
      {
        method: 'GET',
        path: `/admin/grants/${valid.grant_id}`,
        shape: 'problem',
        auth: 'admin',
        body: json({}),
      },
      {
        method: 'POST',
        path: '/admin/revocations',
        shape: 'problem',
        auth: 'admin',
        body: json({ grant_id: valid.grant_id, reason: 'abuse' }),
      },
      { method: 'GET', path: '/admin/decisions', shape: 'problem', auth: 'admin', body: json({}) },
      {
        method: 'GET',
        path: '/admin/audit/verify',
        shape: 'problem',
        auth: 'admin',
        body: json({}),
      },
      {
        method: 'POST',
        path: '/admin/keys/rotate',
        shape: 'problem',
        auth: 'admin',
        body: json({}),
      },
      {
        method: 'PUT',
        path: '/admin/policies',
        shape: 'problem',
        auth: 'admin',
        body: json({ policies: 'forbid (principal, action, resource);' }),
      },
      { method: 'GET', path: '/admin/approvals', shape: 'problem', auth: 'admin', body: json({}) },
    ];
  });

  afterAll(async () => {
    await broker?.close();
    await other?.close();
  });

  it('every case is 401 in the endpoint shape, and nothing happened', async () => {
    const clientCases = (): Array<[string, Record<string, string>]> => [
      ['missing', {}],
      [
        'empty secret',
        { authorization: basicAuth({ client_id: resource.client_id, client_secret: '' }) },
      ],
      [
        'wrong secret (Basic)',
        {
          authorization: basicAuth({
            client_id: resource.client_id,
            client_secret: 'x'.repeat(43),
          }),
        },
      ],
      [
        'unknown client',
        {
          authorization: basicAuth({
            client_id: 'nobody-here',
            client_secret: resource.client_secret,
          }),
        },
      ],
      [
        'crossed id and secret',
        {
          authorization: basicAuth({
            client_id: resource.client_id,
            client_secret: agent.client_secret,
          }),
        },
      ],
      ['foreign client', { authorization: basicAuth(foreign) }],
      [
        'admin bearer on a client endpoint is not a client',
        { authorization: 'Bearer not-the-admin-token' },
      ],
    ];
    const adminCases: Array<[string, Record<string, string>]> = [
      ['missing', {}],
      ['wrong bearer', { authorization: 'Bearer not-the-admin-token' }],
      ['admin token plus a byte', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
      ['a client secret as bearer', { authorization: `Bearer ${agent.client_secret}` }],
      ['an access token as bearer', { authorization: `Bearer ${valid.access_token}` }],
      ['client Basic credentials', { authorization: basicAuth(resource) }],
    ];
    let checked = 0;
    for (const route of routes) {
      const cases = route.auth === 'admin' ? adminCases : clientCases();
      for (const [name, headers] of cases) {
        const res = await send(broker.url, route, headers);
        expectShape(res, route.shape, 401, `${route.method} ${route.path}: ${name}`);
        checked++;
      }
      if (route.path.startsWith('/oauth/')) {
        // client_secret_post with a wrong secret, and a client_id without any secret.
        const body = route.body();
        const wrongPost = `${body.text}&${new URLSearchParams({ client_id: resource.client_id, client_secret: 'wrong' })}`;
        expectShape(
          await send(broker.url, route, {}, { ...body, text: wrongPost }),
          'oauth',
          401,
          `${route.path}: wrong post secret`,
        );
        const idOnly = `${body.text}&${new URLSearchParams({ client_id: resource.client_id })}`;
        expectShape(
          await send(broker.url, route, {}, { ...body, text: idOnly }),
          'oauth',
          401,
          `${route.path}: id only`,
        );
        checked += 2;
      }
    }
    expect(checked).toBeGreaterThan(100);
    // The refused calls changed nothing: the token is still active, no key was rotated, the policy is the same.
    expect(await isActive(broker.url, resource, valid.access_token)).toBe(true);
    const policies = await admin<{ version: number }>(broker.url, 'GET', '/admin/policies');
    expect(policies.body.version).toBe(1);
    const clients = await admin<{ clients: unknown[] }>(broker.url, 'GET', '/admin/clients');
    expect(clients.body.clients).toHaveLength(2);
  });

  it('a resource client is 403 where only agents mint and vice versa, never 200', async () => {
    const asAgentEval = await send(broker.url, routes[3] as Route, {
      authorization: basicAuth(agent),
    });
    expect(asAgentEval.status).toBe(403);
    expect(asAgentEval.body.decision).toBe(false);
    const asAgentIntrospect = await oauthPost(
      broker.url,
      '/oauth/introspect',
      { token: valid.access_token },
      agent,
    );
    expect(asAgentIntrospect.status).toBeGreaterThanOrEqual(400);
    expect(asAgentIntrospect.body.active).not.toBe(true);
  });

  it('Basic and body credentials together: invalid_request on every OAuth endpoint', async () => {
    for (const route of routes.filter((r) => r.shape === 'oauth')) {
      const body = route.body();
      const both = `${body.text}&${new URLSearchParams({ client_id: resource.client_id, client_secret: resource.client_secret })}`;
      const res = await send(
        broker.url,
        route,
        { authorization: basicAuth(resource) },
        { ...body, text: both },
      );
      expect(res.status, route.path).toBe(400);
      expect(res.body.error, route.path).toBe('invalid_request');
    }
  });

  it('repeated parameters: invalid_request', async () => {
    const cases: Array<[string, string, Credentials]> = [
      [
        '/oauth/token',
        `grant_type=client_credentials&grant_type=refresh_token&authorization_details=${encodeURIComponent(JSON.stringify([task(['read'])]))}`,
        agent,
      ],
      [
        '/oauth/token',
        `grant_type=client_credentials&authorization_details=${encodeURIComponent(JSON.stringify([task(['read'])]))}&authorization_details=x`,
        agent,
      ],
      ['/oauth/introspect', `token=${valid.access_token}&token=${valid.access_token}`, resource],
      ['/oauth/revoke', `token=${valid.access_token}&token=other`, agent],
      [
        '/oauth/token',
        `grant_type=client_credentials&client_id=${agent.client_id}&client_id=${agent.client_id}&client_secret=${agent.client_secret}`,
        agent,
      ],
    ];
    for (const [path, text, creds] of cases) {
      const headers: Record<string, string> = text.includes('client_secret=')
        ? {}
        : { authorization: basicAuth(creds) };
      const res = await send(
        broker.url,
        { method: 'POST', path, shape: 'oauth', auth: 'client', body: form({}) },
        headers,
        {
          type: 'application/x-www-form-urlencoded',
          text,
        },
      );
      expect(res.status, `${path} ${text.slice(0, 60)}`).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
    expect(await isActive(broker.url, resource, valid.access_token)).toBe(true);
  });

  it("client B revoking A's access and refresh tokens: 200, and A's grant stays active", async () => {
    const a = await mintToken(broker.url, agent, [task(['read'])]);
    const b = await createClient(broker.url, { name: 'agent B', kind: 'agent' });
    for (const [token, hint] of [
      [a.access_token, undefined],
      [a.access_token, 'access_token'],
      [a.refresh_token, undefined],
      [a.refresh_token, 'refresh_token'],
    ] as const) {
      const res = await oauthPost(
        broker.url,
        '/oauth/revoke',
        { token, ...(hint ? { token_type_hint: hint } : {}) },
        b,
      );
      expect(res.status).toBe(200);
    }
    // A resource client is not the owner either.
    expect(
      (await oauthPost(broker.url, '/oauth/revoke', { token: a.refresh_token }, resource)).status,
    ).toBe(200);
    expect(await isActive(broker.url, resource, a.access_token)).toBe(true);
    const grant = await admin<{ status: string }>(broker.url, 'GET', `/admin/grants/${a.grant_id}`);
    expect(grant.body.status).toBe('active');
  });

  it('unknown authorization_details types or fields: invalid_authorization_details', async () => {
    for (const details of [
      [task(['read']), { type: 'openid_credential', format: 'jwt_vc_json' }],
      [
        {
          ...task(['read']),
          __proto__: { admin: true },
          constructor: { prototype: { admin: true } },
        },
      ],
      [{ ...task(['read']), actions: ['read'], locations: [CRM], privileges: 'all' }],
      [{ ...task(['read']), type: 'AGENT_TASK' }],
    ]) {
      const res = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'client_credentials', authorization_details: JSON.stringify(details) },
        agent,
      );
      expect(res.status, JSON.stringify(details)).toBe(400);
      expect(res.body.error).toBe('invalid_authorization_details');
    }
  });

  it('a request wider than policy: narrowed to what policy permits, or denied when nothing is', async () => {
    const reader = await createClient(broker.url, { name: 'reader', kind: 'agent', groups: [] });
    const wide = await requestToken(broker.url, reader, [
      task(['read', 'delete', 'export'], { locations: [CRM, 'https://erp.example.com'] }),
    ]);
    expect(wide.status).toBe(200);
    const granted = wide.body.authorization_details.flatMap((d) => d.actions);
    expect([...new Set(granted)]).toEqual(['read']);
    const denied = await requestToken(broker.url, reader, [task(['delete', 'deploy'])]);
    expect(denied.status).toBe(400);
    expect(denied.body.error).toBe('access_denied');
    expect(denied.body).not.toHaveProperty('access_token');
  });
});

describe('rate limits', () => {
  let broker: TestBroker;
  let victim: Credentials;
  let legit: Credentials;
  let resource: Credentials;
  let other: Credentials;
  const LIMIT = 5;
  const SOURCE_LIMIT = 12;
  const INVALID_LIMIT = 30;
  const attackerIp = { 'x-forwarded-for': '198.51.100.66' };

  beforeAll(async () => {
    broker = await startTestBroker({
      config: `server:\n  trust_proxy: true\nrate_limit:\n  auth_failures_per_minute: ${LIMIT}\n  auth_failures_per_source_per_minute: ${SOURCE_LIMIT}\n  invalid_tokens_per_minute: ${INVALID_LIMIT}\n`,
    });
    ({ agent: victim, resource } = await createClients(broker.url));
    legit = await createClient(broker.url, { name: 'legit', kind: 'agent' });
    other = await createClient(broker.url, {
      name: 'other resource',
      kind: 'resource',
      resources: [CRM],
    });
  });
  afterAll(async () => {
    await broker?.close();
  });

  const params = () => ({
    grant_type: 'client_credentials',
    authorization_details: JSON.stringify([task(['read'])]),
  });

  it('brute force on a client secret: 429 with Retry-After after the limit for that client id from that address, while other clients keep working', async () => {
    const statuses: number[] = [];
    let last: HttpResult | undefined;
    const legitStatuses: number[] = [];
    for (let i = 0; i < LIMIT + 10; i++) {
      const guess = { client_id: victim.client_id, client_secret: `guess-${i}-${'x'.repeat(30)}` };
      const [attempt, ok] = await Promise.all([
        oauthPost(broker.url, '/oauth/token', params(), guess, 'basic', attackerIp),
        requestToken(broker.url, legit, [task(['read'])]),
      ]);
      statuses.push(attempt.status);
      legitStatuses.push(ok.status);
      last = attempt;
    }
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses.slice(LIMIT)).toEqual(Array(10).fill(429));
    expectShape(last as HttpResult, 'oauth', 429, 'brute force');
    const retryAfter = Number(last?.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(legitStatuses.every((s) => s === 200)).toBe(true);
    // The attacked client id is refused from the attacker's address whatever the secret, before it is compared
    // (the right one included), on every endpoint in its own shape...
    const rightFromAttacker = await oauthPost(
      broker.url,
      '/oauth/token',
      params(),
      victim,
      'basic',
      attackerIp,
    );
    expect(rightFromAttacker.status).toBe(429);
    const evalBlocked = await fetch(`${broker.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: basicAuth(victim),
        ...attackerIp,
      },
      body: '{}',
    });
    expect(evalBlocked.status).toBe(429);
    expect(evalBlocked.headers.get('retry-after')).not.toBeNull();
    expect(((await evalBlocked.json()) as { decision: boolean }).decision).toBe(false);
    // ... but the attacker's failures lock nobody else out (issue 16 item 3; this used to be 429 per client id
    // and per address): another client from the attacker's address, and the attacked client id from elsewhere,
    // are answered on their own merits.
    expect(
      (await oauthPost(broker.url, '/oauth/token', params(), legit, 'basic', attackerIp)).status,
    ).toBe(200);
    const elsewhere = await oauthPost(
      broker.url,
      '/oauth/token',
      params(),
      { client_id: victim.client_id, client_secret: 'y'.repeat(43) },
      'basic',
      {
        'x-forwarded-for': '203.0.113.200',
      },
    );
    expect(elsewhere.status).toBe(401);
    expect(
      (
        await oauthPost(broker.url, '/oauth/token', params(), victim, 'basic', {
          'x-forwarded-for': '203.0.113.200',
        })
      ).status,
    ).toBe(200);
    const adminOk = await admin(broker.url, 'GET', '/admin/clients', undefined, ADMIN_TOKEN);
    expect(adminOk.status).toBe(200);
  });

  it('guessing the admin bearer from one address: 429 problem+json after the per-source limit', async () => {
    // Admin bearer guesses count per source only (each guess is a different token): the source limit applies.
    const ip = { 'x-forwarded-for': '198.51.100.77' };
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < SOURCE_LIMIT + 3; i++) {
      last = await fetch(`${broker.url}/admin/clients`, {
        headers: { authorization: `Bearer guess-${i}-0123456789`, ...ip },
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(SOURCE_LIMIT).fill(401), ...Array(3).fill(429)]);
    expect(last?.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(last?.headers.get('retry-after')).not.toBeNull();
  });

  it('a flood of random introspections: 429 for the flooder; another resource client still gets active answers', async () => {
    const valid = await mintToken(broker.url, legit, [task(['read'])]);
    const results: number[] = [];
    for (let i = 0; i < INVALID_LIMIT + 10; i++) {
      const random = `${Buffer.from(`{"alg":"ES256","kid":"${i}"}`).toString('base64url')}.${'e30'}.${'A'.repeat(86)}`;
      const [flood, check] = await Promise.all([
        oauthPost(broker.url, '/oauth/introspect', { token: random }, resource),
        oauthPost(broker.url, '/oauth/introspect', { token: valid.access_token }, other),
      ]);
      results.push(flood.status);
      expect(check.status).toBe(200);
      expect(check.body.active).toBe(true);
    }
    expect(results.slice(0, INVALID_LIMIT)).toEqual(Array(INVALID_LIMIT).fill(200));
    expect(results.slice(INVALID_LIMIT)).toEqual(Array(10).fill(429));
    // The flooder is blocked for valid tokens too (until the window ends), and on evaluation in AuthZEN's shape.
    const blocked = await oauthPost(
      broker.url,
      '/oauth/introspect',
      { token: valid.access_token },
      resource,
    );
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe('temporarily_unavailable');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const evalBlocked = await fetch(`${broker.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
      body: JSON.stringify(evaluation(legit.client_id, valid.access_token)),
    });
    expect(evalBlocked.status).toBe(429);
    // Evaluations of the other client are unaffected.
    const evalOk = await fetch(`${broker.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(other) },
      body: JSON.stringify(evaluation(legit.client_id, valid.access_token)),
    });
    expect(evalOk.status).toBe(200);
    expect(((await evalOk.json()) as { decision: boolean }).decision).toBe(true);
  });
});
