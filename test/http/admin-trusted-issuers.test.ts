// /admin/trusted-issuers through app.request(): create, list, delete, and RFC 9457 refusals of bad input; private_key_jwt client registration rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../support/expect-problem.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-admin-trusted-issuers' });
});

afterAll(async () => {
  await t?.close();
});

const JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};
const entry = (over: Record<string, unknown> = {}) => ({
  issuer: 'https://token.actions.githubusercontent.com',
  jwks_uri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
  audience: 'https://mandate.example.com',
  subject_map: [{ match: { repository: 'acme/deployer' }, client_id: 'deployer' }],
  claims: ['repository', 'ref'],
  ...over,
});

describe('/admin/trusted-issuers: happy', () => {
  it('creates (201 with an id), lists and deletes a trusted issuer', async () => {
    const created = await t.admin<{ id: string }>('POST', '/admin/trusted-issuers', entry());
    expect(created.status, created.text).toBe(201);
    expect(created.body.id).toMatch(/^ti_/);
    const list = await t.admin<{ trusted_issuers: Array<{ id: string }> }>(
      'GET',
      '/admin/trusted-issuers',
    );
    expect(list.status).toBe(200);
    expect(list.body.trusted_issuers.map((i) => i.id)).toContain(created.body.id);
    expect((await t.admin('DELETE', `/admin/trusted-issuers/${created.body.id}`)).status).toBe(200);
    expectProblem(await t.admin('DELETE', `/admin/trusted-issuers/${created.body.id}`), 404);
  });

  it('takes an inline jwks and a chosen id', async () => {
    const res = await t.admin('POST', '/admin/trusted-issuers', {
      ...entry({ issuer: 'https://spiffe.example.org', jwks_uri: undefined }),
      id: 'spiffe',
      jwks: { keys: [JWK] },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.id).toBe('spiffe');
  });
});

describe('/admin/trusted-issuers: errors', () => {
  it.each([
    ['no keys at all', entry({ jwks_uri: undefined })],
    ['both jwks and jwks_uri', entry({ jwks: { keys: [JWK] } })],
    ['an http jwks_uri', entry({ jwks_uri: 'http://keys.example.com/jwks' })],
    ['a jwks_uri with credentials', entry({ jwks_uri: 'https://u:p@keys.example.com/jwks' })],
    ['an issuer that is not a URL', entry({ issuer: 'kubernetes' })],
    ['an empty subject_map', entry({ subject_map: [] })],
    ['a rule matching nothing', entry({ subject_map: [{ match: {}, client_id: 'a' }] })],
    [
      'a bad client_id in a rule',
      entry({ subject_map: [{ match: { sub: 'x' }, client_id: 'a b' }] }),
    ],
    ['a claim name with a dot', entry({ claims: ['kubernetes.io'] })],
    [
      'a private key in jwks',
      { ...entry({ jwks_uri: undefined }), jwks: { keys: [{ ...JWK, d: 'secret' }] } },
    ],
    [
      'a symmetric key in jwks',
      { ...entry({ jwks_uri: undefined }), jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
    ],
    ['an unknown field', entry({ subject: 'x' })],
    ['an id with a slash', { ...entry(), id: 'a/b' }],
  ])('%s: 400 problem+json, nothing stored', async (_name, body) => {
    const before = await t.admin('GET', '/admin/trusted-issuers');
    expectProblem(await t.admin('POST', '/admin/trusted-issuers', body), 400);
    expect((await t.admin('GET', '/admin/trusted-issuers')).text).toBe(before.text);
  });

  it('a second entry for the same issuer or id: 409', async () => {
    const issuer = 'https://k8s.example.com';
    expect(
      (await t.admin('POST', '/admin/trusted-issuers', { ...entry({ issuer }), id: 'k8s' })).status,
    ).toBe(201);
    expectProblem(await t.admin('POST', '/admin/trusted-issuers', entry({ issuer })), 409);
    expectProblem(
      await t.admin('POST', '/admin/trusted-issuers', {
        ...entry({ issuer: 'https://other.example.com' }),
        id: 'k8s',
      }),
      409,
    );
  });

  it('without the admin bearer: 401', async () => {
    const res = await t.request('/admin/trusted-issuers', { method: 'GET' });
    expect(res.status).toBe(401);
  });
});

describe('/admin/clients: private_key_jwt registration', () => {
  it('registers with jwks and returns no secret', async () => {
    const res = await t.admin('POST', '/admin/clients', {
      name: 'keyed',
      kind: 'agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [JWK] },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.client_secret).toBeUndefined();
  });

  it.each([
    ['a private key', { jwks: { keys: [{ ...JWK, d: 'x' }] } }],
    [
      'both jwks and jwks_uri',
      { jwks: { keys: [JWK] }, jwks_uri: 'https://keys.example.com/jwks' },
    ],
    ['an http jwks_uri', { jwks_uri: 'http://keys.example.com/jwks' }],
  ])('refuses %s: 400 problem+json', async (_name, keys) => {
    expectProblem(
      await t.admin('POST', '/admin/clients', {
        name: 'keyed',
        kind: 'agent',
        token_endpoint_auth_method: 'private_key_jwt',
        ...keys,
      }),
      400,
    );
  });

  it('refuses keys on a secret client, and moving a key-only client to a secret method', async () => {
    expectProblem(
      await t.admin('POST', '/admin/clients', { name: 's', kind: 'agent', jwks: { keys: [JWK] } }),
      400,
    );
    const keyed = await t.admin<{ client: { client_id: string } }>('POST', '/admin/clients', {
      name: 'keyed',
      kind: 'agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [JWK] },
    });
    expectProblem(
      await t.admin('PATCH', `/admin/clients/${keyed.body.client.client_id}`, {
        token_endpoint_auth_method: 'client_secret_basic',
        jwks: undefined,
      }),
      400,
    );
  });
});
