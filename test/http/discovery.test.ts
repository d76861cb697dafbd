// RFC 8414 metadata and the JWKS through app.request(): what a client discovers, and no private key material.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-discovery' });
});

afterAll(async () => {
  await t?.close();
});

describe('GET /.well-known/oauth-authorization-server', () => {
  it('names the issuer and its endpoints under it', async () => {
    const res = await t.request('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    expect(res.body.issuer).toBe(t.issuer);
    for (const field of [
      'token_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
      'jwks_uri',
    ])
      expect(String(res.body[field])).toMatch(new RegExp(`^${t.issuer}/`));
    expect(res.body.grant_types_supported).toContain('client_credentials');
    expect(res.body.authorization_details_types_supported).toEqual(['agent_task']);
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('serves public keys only', async () => {
    const res = await t.request<{ keys: Array<Record<string, unknown>> }>('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys.length).toBeGreaterThan(0);
    for (const key of res.body.keys) {
      expect(typeof key.kid).toBe('string');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        expect(key).not.toHaveProperty(secret);
    }
  });
});

describe('an unknown route', () => {
  it('is 404, not a handler of another route', async () => {
    expect((await t.request('/nothing-here')).status).toBe(404);
  });
});
