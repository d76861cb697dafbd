// requireMandate: the Hono middleware answers refusals with RFC 6750 challenges and exposes the claims.
import { Hono } from 'hono';
import { beforeEach, describe, expect, it } from 'vitest';
import { type MandateVariables, requireMandate } from '../../../src/client/hono.ts';
import { CRM, createFakeIssuer, type FakeIssuer, ISSUER, json } from './fake-issuer.ts';

let issuer: FakeIssuer;

beforeEach(async () => {
  issuer = await createFakeIssuer();
  issuer.on('POST /access/v1/evaluation', (req) =>
    json({ decision: (req.json as { action: { name: string } }).action.name === 'read' }),
  );
});

function appOf() {
  const app = new Hono<{ Variables: MandateVariables }>();
  app.use(
    '/records/*',
    requireMandate({
      issuer: ISSUER,
      clientId: 'crm-api',
      clientSecret: 'secret',
      resource: CRM,
      fetch: issuer.fetch,
      action: (c) => (c.req.method === 'GET' ? 'read' : 'write'),
      context: (c) => ({ ip: c.req.header('x-forwarded-for') ?? '127.0.0.1' }),
    }),
  );
  app.all('/records/:id', (c) =>
    c.json({ id: c.req.param('id'), agent: c.get('mandate').client_id }),
  );
  return app;
}

describe('requireMandate', () => {
  it('lets a permitted request through with the claims in c.var.mandate', async () => {
    const res = await appOf().request('/records/7', {
      headers: { authorization: `Bearer ${await issuer.sign()}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '7', agent: 'agent-1' });
  });

  it('answers 403 insufficient_scope with WWW-Authenticate when the action is not permitted', async () => {
    const res = await appOf().request('/records/7', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await issuer.sign()}` },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope' });
  });

  it('answers 401 with a bare challenge when no token is sent', async () => {
    const res = await appOf().request('/records/7');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="${CRM}"`);
  });

  it('answers 503, never 200, when Mandate is unreachable', async () => {
    const token = await issuer.sign();
    issuer.on('POST /access/v1/evaluation', () => {
      throw new TypeError('fetch failed');
    });
    const res = await appOf().request('/records/7', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(503);
  });

  it('refuses to build without an action', () => {
    expect(() =>
      requireMandate({ issuer: ISSUER, clientId: 'a', clientSecret: 'b', resource: CRM }),
    ).toThrow(TypeError);
  });
});
