// POST /oauth/revoke through app.request(): RFC 7009 revocation of one's own tokens, refusals, cross-client attempts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Credentials, task } from '../support/broker.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let agent: Credentials;
let resource: Credentials;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-revoke' });
  ({ agent, resource } = await t.clients());
});

afterAll(async () => {
  await t?.close();
});

const active = async (token: string) =>
  (await t.form('/oauth/introspect', { token }, resource)).body.active === true;

describe('POST /oauth/revoke: happy', () => {
  it('revoking the refresh token ends the grant: its access token turns inactive', async () => {
    const token = await t.mint(agent, [task(['read'])]);
    expect(await active(token.access_token)).toBe(true);
    const res = await t.form('/oauth/revoke', { token: token.refresh_token }, agent);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await active(token.access_token)).toBe(false);
  });

  it('an unknown token: 200 all the same', async () => {
    const res = await t.form('/oauth/revoke', { token: 'not-a-token-we-issued' }, agent);
    expect(res.status).toBe(200);
  });
});

describe('POST /oauth/revoke: errors', () => {
  it('no token parameter: 400 invalid_request', async () => {
    const res = await t.form('/oauth/revoke', {}, agent);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('a foreign token_type_hint: 400 unsupported_token_type', async () => {
    const res = await t.form('/oauth/revoke', { token: 'x', token_type_hint: 'id_token' }, agent);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('unsupported_token_type');
  });
});

describe('POST /oauth/revoke: security', () => {
  it('no client authentication: 401 invalid_client', async () => {
    const res = await t.form('/oauth/revoke', { token: 'x' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).not.toBeNull();
  });

  it("another client revoking an agent's tokens: 200, and the grant stays active", async () => {
    const token = await t.mint(agent, [task(['read'])]);
    const other = await t.client({ name: 'other agent', kind: 'agent', groups: ['writers'] });
    for (const tok of [token.access_token, token.refresh_token])
      expect((await t.form('/oauth/revoke', { token: tok }, other)).status).toBe(200);
    expect(await active(token.access_token)).toBe(true);
  });
});
