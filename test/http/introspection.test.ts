// POST /oauth/introspect through app.request(): RFC 7662 answers, refusals, fail-closed for anything doubtful.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Credentials, type TokenBody, task } from '../support/broker.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let agent: Credentials;
let resource: Credentials;
let token: TokenBody;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-introspect' });
  ({ agent, resource } = await t.clients());
  token = await t.mint(agent, [task(['read'])]);
});

afterAll(async () => {
  await t?.close();
});

describe('POST /oauth/introspect: happy', () => {
  it('a live token is active, with its client, grant and authorization_details', async () => {
    const res = await t.form('/oauth/introspect', { token: token.access_token }, resource);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.active).toBe(true);
    expect(res.body.client_id).toBe(agent.client_id);
    expect(res.body.grant_id).toBe(token.grant_id);
    expect(res.body.iss).toBe(t.issuer);
    expect(Array.isArray(res.body.authorization_details)).toBe(true);
  });
});

describe('POST /oauth/introspect: errors', () => {
  it('no token parameter: 400 invalid_request', async () => {
    const res = await t.form('/oauth/introspect', {}, resource);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('a body that is not form-encoded: 400 invalid_request', async () => {
    const res = await t.request('/oauth/introspect', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: token.access_token }),
    });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});

describe('POST /oauth/introspect: security', () => {
  it('no client authentication: 401 invalid_client, and nothing about the token', async () => {
    const res = await t.form('/oauth/introspect', { token: token.access_token });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.text).not.toContain(token.grant_id);
  });

  it('a tampered or garbage token is {active:false}, never an error that tells why', async () => {
    const [h, p, s] = token.access_token.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`}`;
    for (const bad of [flipped, 'garbage', `${h}.${p}.`]) {
      const res = await t.form('/oauth/introspect', { token: bad }, resource);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
  });

  it('a revoked grant makes its token inactive', async () => {
    const other = await t.mint(agent, [task(['read'])]);
    const revoked = await t.admin('POST', '/admin/revocations', {
      grant_id: other.grant_id,
      reason: 'http test',
    });
    expect(revoked.status, revoked.text).toBe(200);
    const res = await t.form('/oauth/introspect', { token: other.access_token }, resource);
    expect(res.body).toEqual({ active: false });
  });
});
