// The admin API's RFC 9457 refusals through app.request(): bearer checks, bodies that are not JSON,
// schema violations, unknown things, bad Cedar (moved from integration/bad-input: no socket needed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  type Credentials,
  type HttpResult,
  type TokenBody,
  task,
} from '../support/broker.ts';
import { expectProblem } from '../support/expect-problem.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let agent: Credentials;
let valid: TokenBody;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-admin-problems' });
  ({ agent } = await t.clients());
  valid = await t.mint(agent, [task(['read'], { taskId: 'T-valid' })]);
});

afterAll(async () => {
  await t?.close();
});

describe('admin API', () => {
  it('without or with a wrong bearer token: 401 problem+json', async () => {
    const none = await t.request('/admin/clients');
    expectProblem(none, 401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expectProblem(await t.admin('GET', '/admin/clients', undefined, 'not-the-admin-token'), 401);
    // A client's access token is not an admin token.
    expectProblem(await t.admin('GET', '/admin/clients', undefined, valid.access_token), 401);
    expectProblem(await t.admin('GET', '/admin/clients', undefined, `${ADMIN_TOKEN}x`), 401);
  });

  it('a body that is not JSON: 415 or 400 problem+json', async () => {
    const wrongType = await t.request('/admin/clients', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' },
      body: '{"name":"x","kind":"agent"}',
    });
    expectProblem(wrongType, 415);
    const badJson = await t.request('/admin/clients', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expectProblem(badJson, 400);
  });

  it('schema violations: 400 problem+json naming the fields', async () => {
    const res = await t.admin<{ status: number; title: string; errors: Array<{ path: string }> }>(
      'POST',
      '/admin/clients',
      { kind: 'robot' },
    );
    expectProblem(res as HttpResult, 400);
    const paths = res.body.errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['kind', 'name']));
    expectProblem(
      await t.admin('POST', '/admin/clients', {
        name: 'x',
        kind: 'agent',
        is_admin: true,
      }),
      400,
    );
    expectProblem(await t.admin('POST', '/admin/clients', { name: 'x', kind: 'resource' }), 400);
    expectProblem(
      await t.admin('POST', '/admin/clients', {
        name: 'x',
        kind: 'agent',
        client_id: '../etc',
      }),
      400,
    );
    expectProblem(
      await t.admin('POST', '/admin/revocations', {
        jti: 'a',
        grant_id: 'b',
        reason: 'two targets',
      }),
      400,
    );
    expectProblem(await t.admin('POST', '/admin/revocations', { reason: 'no target' }), 400);
    expectProblem(await t.admin('POST', '/admin/revocations', { jti: 'a' }), 400);
    expectProblem(await t.admin('GET', '/admin/grants?status=bogus'), 400);
    expectProblem(await t.admin('GET', '/admin/decisions?limit=0'), 400);
    expectProblem(
      await t.admin('PATCH', `/admin/clients/${agent.client_id}`, { kind: 'resource' }),
      400,
    );
  });

  it('unknown things: 404 problem+json; a taken client_id: 409', async () => {
    expectProblem(await t.admin('GET', '/admin/clients/no-such-client'), 404);
    expectProblem(await t.admin('GET', '/admin/grants/g_nope'), 404);
    expectProblem(await t.admin('GET', '/admin/nothing-here'), 404);
    expectProblem(
      await t.admin('POST', '/admin/clients', {
        client_id: agent.client_id,
        name: 'dup',
        kind: 'agent',
      }),
      409,
    );
  });

  it('PUT /admin/policies with bad Cedar: 400 with line and column, and the old set stays', async () => {
    const before = await t.admin<{ version: number; sha256: string; policies: string }>(
      'GET',
      '/admin/policies',
    );
    expect(before.status).toBe(200);
    const syntax =
      '// line 1\n@id("ok")\npermit (principal, action, resource)\nwhen { context.risk >>> 3 };\n';
    const res = await t.admin<{ detail: string; errors: Array<{ line: number; column: number }> }>(
      'PUT',
      '/admin/policies',
      { policies: syntax },
    );
    expectProblem(res as HttpResult, 400);
    expect(res.body.detail).toMatch(/line \d+, column \d+/);
    expect(res.body.errors[0]?.line).toBe(4);
    expect(res.body.errors[0]?.column).toBeGreaterThan(0);

    const invalid =
      '@id("a")\npermit (principal, action, resource);\n@id("b")\npermit (principal, action == Action::"teleport", resource);\n';
    const res2 = await t.admin<{ detail: string; errors: Array<{ line: number; column: number }> }>(
      'PUT',
      '/admin/policies',
      { policies: invalid },
    );
    expectProblem(res2 as HttpResult, 400);
    expect(res2.body.errors[0]?.line).toBe(4);
    expect(res2.body.errors[0]?.column).toBeGreaterThan(0);

    const after = await t.admin<{ version: number; sha256: string; policies: string }>(
      'GET',
      '/admin/policies',
    );
    expect(after.body.version).toBe(before.body.version);
    expect(after.body.sha256).toBe(before.body.sha256);
    expect(after.body.policies).toBe(before.body.policies);
    // And it still decides as before.
    expect(
      (
        await t.form(
          '/oauth/token',
          {
            grant_type: 'client_credentials',
            authorization_details: JSON.stringify([task(['read'])]),
          },
          agent,
        )
      ).status,
    ).toBe(200);
  });
});
