// POST /oauth/token through app.request(): issuance, RFC 6749 refusals, client authentication.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Credentials, type HttpResult, type TokenBody, task } from '../support/broker.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let agent: Credentials;
let resource: Credentials;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-token' });
  ({ agent, resource } = await t.clients());
});

afterAll(async () => {
  await t?.close();
});

const params = (actions = ['read']) => ({
  grant_type: 'client_credentials',
  authorization_details: JSON.stringify([task(actions)]),
});

/** An RFC 6749 5.2 error: JSON, never cached, the given code. */
function expectOAuthError(res: HttpResult, status: number, error: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body.error).toBe(error);
}

describe('POST /oauth/token: happy', () => {
  it('issues a Bearer token for the requested authorization_details, with a refresh token', async () => {
    const res = await t.form<TokenBody>('/oauth/token', params(['read', 'write']), agent);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.token_type).toBe('Bearer');
    expect(res.body.access_token.split('.')).toHaveLength(3);
    expect(typeof res.body.refresh_token).toBe('string');
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(res.body.authorization_details[0]?.actions.sort()).toEqual(['read', 'write']);
  });

  it('authenticates with client_secret_post as with HTTP Basic', async () => {
    const res = await t.form<TokenBody>('/oauth/token', params(), agent, 'post');
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
  });

  it('rotates the refresh token on refresh', async () => {
    const first = await t.mint(agent, [task(['read'])]);
    const res = await t.form<TokenBody>(
      '/oauth/token',
      { grant_type: 'refresh_token', refresh_token: first.refresh_token },
      agent,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(res.body.grant_id).toBe(first.grant_id);
  });
});

describe('POST /oauth/token: errors', () => {
  it('an unknown grant type: unsupported_grant_type; a missing one: invalid_request', async () => {
    expectOAuthError(
      await t.form('/oauth/token', { grant_type: 'password', username: 'u', password: 'p' }, agent),
      400,
      'unsupported_grant_type',
    );
    expectOAuthError(
      await t.form(
        '/oauth/token',
        { authorization_details: params().authorization_details },
        agent,
      ),
      400,
      'invalid_request',
    );
  });

  it('authorization_details that is not JSON, or not a list of tasks: invalid_authorization_details', async () => {
    for (const details of ['not json', '{}', '[{"type":"agent_task"}]']) {
      const res = await t.form(
        '/oauth/token',
        { grant_type: 'client_credentials', authorization_details: details },
        agent,
      );
      expect(res.status, res.text).toBe(400);
      expect(res.body.error, details).toBe('invalid_authorization_details');
    }
  });

  it('a body that is not form-encoded: 400 invalid_request', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const res = await t.request('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Basic ${btoa('x:y')}` },
        body: JSON.stringify(params()),
      });
      expectOAuthError(res, 400, 'invalid_request');
    }
  });

  it('a garbage refresh token: invalid_grant', async () => {
    expectOAuthError(
      await t.form(
        '/oauth/token',
        { grant_type: 'refresh_token', refresh_token: 'garbage' },
        agent,
      ),
      400,
      'invalid_grant',
    );
  });
});

describe('POST /oauth/token: security', () => {
  it('a wrong secret: 401 invalid_client with WWW-Authenticate, and no token', async () => {
    const res = await t.form('/oauth/token', params(), { ...agent, client_secret: 'wrong' });
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(res.text).not.toContain('access_token');
  });

  it('no credentials: 401 invalid_client', async () => {
    expectOAuthError(await t.form('/oauth/token', params()), 401, 'invalid_client');
  });

  it('a resource client cannot mint tokens for itself', async () => {
    const res = await t.form('/oauth/token', params(), resource);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.text).not.toContain('access_token');
  });

  it("a refresh token is bound to its client: another agent's refresh is invalid_grant", async () => {
    const other = await t.client({ name: 'other agent', kind: 'agent', groups: ['writers'] });
    const first = await t.mint(agent, [task(['read'])]);
    expectOAuthError(
      await t.form(
        '/oauth/token',
        { grant_type: 'refresh_token', refresh_token: first.refresh_token },
        other,
      ),
      400,
      'invalid_grant',
    );
  });
});
