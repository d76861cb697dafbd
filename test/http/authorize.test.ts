// /oauth/authorize, its callback and consent page through app.request(): what is shown and what is redirected, the pages' headers, public client registration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.ts';

const MCP = 'https://mcp.example.com/mcp';
const REDIRECT = 'https://app.example.com/cb';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

let t: TestApp;
let limited: TestApp;

beforeAll(async () => {
  [t, limited] = await Promise.all([
    createTestApp({ name: 'http-authorize' }),
    createTestApp({
      name: 'http-authorize-limited',
      config: 'login: { starts_per_source_per_minute: 2 }\n',
    }),
  ]);
  await limited.admin('POST', '/admin/clients', {
    client_id: 'public-app',
    name: 'Public App',
    kind: 'agent',
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT],
  });
  const created = await t.admin('POST', '/admin/clients', {
    client_id: 'public-app',
    name: 'Public App',
    kind: 'agent',
    token_endpoint_auth_method: 'none',
    redirect_uris: [REDIRECT],
  });
  expect(created.status, created.text).toBe(201);
  expect(created.body.client_secret).toBeUndefined();
  await t.admin('POST', '/admin/clients', {
    client_id: 'mcp-rs',
    name: 'MCP server',
    kind: 'resource',
    resources: [MCP],
  });
});

afterAll(async () => {
  await Promise.all([t?.close(), limited?.close()]);
});

function authorizeUrl(set: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: 'public-app',
    redirect_uri: REDIRECT,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    state: 'st-1',
    resource: MCP,
    scope: 'tools:read',
    ...set,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `/oauth/authorize?${q}`;
}

function expectShownPage(res: { status: number; headers: Headers }, status = 400): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('GET /oauth/authorize', () => {
  it('without login.oidc a valid request goes back to the client as temporarily_unavailable, with state and iss', async () => {
    const res = await t.request(authorizeUrl());
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location') ?? '');
    expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
    expect(to.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(to.searchParams.get('state')).toBe('st-1');
    expect(to.searchParams.get('iss')).toBe(t.issuer);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it.each([
    ['an unknown client', { client_id: 'nobody' }],
    ['a resource client', { client_id: 'mcp-rs' }],
    ['an unregistered redirect', { redirect_uri: 'https://evil.example.com/cb' }],
    ['no redirect_uri', { redirect_uri: undefined }],
    ['no client_id', { client_id: undefined }],
  ])('%s is shown, never redirected', async (_name, set) => {
    expectShownPage(await t.request(authorizeUrl(set)));
  });

  it('a source starting too many requests in a minute is told to wait (each start is kept in Redis)', async () => {
    const errors: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await limited.request(authorizeUrl());
      errors.push(
        new URL(res.headers.get('location') ?? '').searchParams.get('error_description') ?? '',
      );
    }
    expect(errors[1]).not.toContain('too many');
    expect(errors[2]).toContain('too many');
  });

  it('a repeated redirect_uri is shown, never redirected', async () => {
    expectShownPage(
      await t.request(`${authorizeUrl()}&redirect_uri=${encodeURIComponent(REDIRECT)}`),
    );
  });
});

describe('the callback and the consent page', () => {
  it('without a pending request in this browser: a page, no redirect', async () => {
    expectShownPage(await t.request('/oauth/callback?code=x&state=y'));
    expectShownPage(await t.request('/oauth/consent'));
    expectShownPage(
      await t.request('/oauth/consent', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: 'mandate_authz=forged',
        },
        body: 'csrf=abc&decision=approve',
      }),
    );
  });

  it('a consent post from another origin is refused before anything is read', async () => {
    const res = await t.request('/oauth/consent', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example.com',
      },
      body: 'csrf=abc&decision=approve',
    });
    expectShownPage(res, 403);
  });
});

describe('the code grant at the token endpoint', () => {
  it('a public client needs code, redirect_uri and code_verifier; an unknown code is invalid_grant', async () => {
    const bare = await t.form('/oauth/token', {
      grant_type: 'authorization_code',
      client_id: 'public-app',
    });
    expect(bare.status).toBe(400);
    expect(bare.body.error).toBe('invalid_request');
    const unknown = await t.form('/oauth/token', {
      grant_type: 'authorization_code',
      client_id: 'public-app',
      code: 'no-such-code',
      redirect_uri: REDIRECT,
      code_verifier: 'v'.repeat(43),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_grant');
  });

  it('client_id alone is no authentication for a confidential client or another grant', async () => {
    const agent = await t.client({ name: 'confidential', kind: 'agent' });
    const res = await t.form('/oauth/token', {
      grant_type: 'authorization_code',
      client_id: agent.client_id,
      code: 'x',
      redirect_uri: REDIRECT,
      code_verifier: 'v'.repeat(43),
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    const cc = await t.form('/oauth/token', {
      grant_type: 'client_credentials',
      client_id: 'public-app',
      scope: 'read',
      resource: MCP,
    });
    expect(cc.status).toBe(401);
    expect(cc.body.error).toBe('invalid_client');
  });
});

describe('registering clients with redirect URIs', () => {
  it.each([
    [
      'a public client without redirect URIs',
      { kind: 'agent', token_endpoint_auth_method: 'none' },
    ],
    [
      'a public resource client',
      {
        kind: 'resource',
        resources: [MCP],
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT],
      },
    ],
    [
      'an http redirect off loopback',
      { kind: 'agent', redirect_uris: ['http://app.example.com/cb'] },
    ],
    [
      'a redirect with a fragment',
      { kind: 'agent', redirect_uris: ['https://app.example.com/cb#x'] },
    ],
  ])('refuses %s', async (_name, body) => {
    const res = await t.admin('POST', '/admin/clients', { name: 'x', ...body });
    expect(res.status).toBe(400);
  });
});
