// /admin/clients through app.request(): registration and listing, RFC 9457 refusals, the admin bearer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem } from '../support/expect-problem.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-admin-clients' });
});

afterAll(async () => {
  await t?.close();
});

describe('/admin/clients: happy', () => {
  it('registers an agent, shows its secret once, and lists it without the secret', async () => {
    const created = await t.admin<{ client: { client_id: string }; client_secret: string }>(
      'POST',
      '/admin/clients',
      { name: 'listed agent', kind: 'agent', groups: ['writers'] },
    );
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { client_id } = created.body.client;
    expect(typeof created.body.client_secret).toBe('string');
    const list = await t.admin<{ clients: Array<{ client_id: string }> }>('GET', '/admin/clients');
    expect(list.status).toBe(200);
    expect(list.body.clients.map((c) => c.client_id)).toContain(client_id);
    expect(list.text).not.toContain(created.body.client_secret);
    const one = await t.admin('GET', `/admin/clients/${client_id}`);
    expect(one.status).toBe(200);
    expect(one.body.client_id).toBe(client_id);
  });

  it('disables and deletes a client', async () => {
    const { client_id } = await t.client({ name: 'short-lived', kind: 'agent' });
    expect((await t.admin('PATCH', `/admin/clients/${client_id}`, { disabled: true })).status).toBe(
      200,
    );
    expect((await t.admin('DELETE', `/admin/clients/${client_id}`)).status).toBe(200);
    expectProblem(await t.admin('GET', `/admin/clients/${client_id}`), 404);
  });
});

describe('/admin/clients: errors', () => {
  it('a body that is not JSON: 400 or 415 problem+json', async () => {
    const res = await t.request('/admin/clients', {
      method: 'POST',
      headers: {
        authorization: 'Bearer test-admin-token-0123456789',
        'content-type': 'text/plain',
      },
      body: 'name=x',
    });
    expect([400, 415]).toContain(res.status);
    expectProblem(res, res.status);
  });

  it('a schema violation: 400 problem+json', async () => {
    expectProblem(await t.admin('POST', '/admin/clients', { name: 'x', kind: 'robot' }), 400);
  });

  it('an unknown client: 404 problem+json', async () => {
    expectProblem(await t.admin('GET', '/admin/clients/no-such-client'), 404);
  });
});

describe('/admin/clients: security', () => {
  it('without or with a wrong bearer token: 401 problem+json, nothing listed', async () => {
    const none = await t.request('/admin/clients');
    expectProblem(none, 401);
    const wrong = await t.admin('GET', '/admin/clients', undefined, 'not-the-admin-token-0123');
    expectProblem(wrong, 401);
    expect(wrong.text).not.toContain('client_id');
  });

  it('a client secret is no admin token', async () => {
    const creds = await t.client({ name: 'not an admin', kind: 'agent' });
    expectProblem(await t.admin('GET', '/admin/clients', undefined, creds.client_secret), 401);
  });
});
