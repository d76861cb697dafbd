// GET /oauth/clients/{client_id} through app.request(): a client reads its own registration; anyone else gets 401 invalid_client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, type Credentials } from '../support/broker.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

const MCP = 'https://mcp.example.com/mcp';
let t: TestApp;
let agent: Credentials;
let tickets: Credentials;

beforeAll(async () => {
  t = await createTestApp({ name: 'http-registration' });
  ({ agent } = await t.clients());
  tickets = await t.client({
    name: 'Tickets MCP server',
    kind: 'resource',
    resources: [`${MCP}/`],
    actions: ['search_tickets', 'read_ticket'],
  });
});

afterAll(async () => {
  await t?.close();
});

const read = (id: string, authorization?: string) =>
  t.request(`/oauth/clients/${encodeURIComponent(id)}`, {
    headers: authorization ? { authorization } : {},
  });

/** A resource client's caller token (client_credentials, resource = the issuer). */
async function callerToken(creds: Credentials): Promise<string> {
  const res = await t.form(
    '/oauth/token',
    {
      grant_type: 'client_credentials',
      resource: t.issuer,
    },
    creds,
  );
  expect(res.status, res.text).toBe(200);
  return res.body.access_token as string;
}

describe('GET /oauth/clients/{client_id}: happy', () => {
  it('a resource client reads its resources and actions, never a secret', async () => {
    const res = await read(tickets.client_id, basicAuth(tickets));
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      client_id: tickets.client_id,
      client_name: 'Tickets MCP server',
      client_id_issued_at: expect.any(Number),
      token_endpoint_auth_method: 'client_secret_basic',
      kind: 'resource',
      resources: [MCP],
      actions: ['search_tickets', 'read_ticket'],
    });
    expect(res.text).not.toContain(tickets.client_secret);
    expect(res.text).not.toContain('sha256:');
  });

  it('with its caller token instead of its secret', async () => {
    const res = await read(tickets.client_id, `Bearer ${await callerToken(tickets)}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.actions).toEqual(['search_tickets', 'read_ticket']);
  });

  it('a public client (no secret) has nothing to authenticate with here: 401 invalid_client', async () => {
    const created = await t.admin('POST', '/admin/clients', {
      client_id: 'desk',
      name: 'Desk',
      kind: 'agent',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'],
    });
    expect(created.status, created.text).toBe(201);
    const res = await read('desk', basicAuth({ client_id: 'desk', client_secret: '' }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('an agent reads its own (no actions)', async () => {
    const res = await read(agent.client_id, basicAuth(agent));
    expect(res.status, res.text).toBe(200);
    expect(res.body.kind).toBe('agent');
    expect(res.body).not.toHaveProperty('actions');
  });
});

describe('GET /oauth/clients/{client_id}: errors and security', () => {
  it('no credentials: 401 invalid_client with a Basic challenge', async () => {
    const res = await read(tickets.client_id);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(res.text).not.toContain('search_tickets');
  });

  it('a wrong secret: 401 invalid_client', async () => {
    const res = await read(
      tickets.client_id,
      basicAuth({ client_id: tickets.client_id, client_secret: `${tickets.client_secret}x` }),
    );
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('a tampered caller token: 401 invalid_client', async () => {
    const token = await callerToken(tickets);
    const res = await read(tickets.client_id, `Bearer ${token.slice(0, -4)}AAAA`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it("another client's valid credentials: 401 invalid_client, nothing of the registration", async () => {
    const res = await read(tickets.client_id, basicAuth(agent));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.text).not.toContain('search_tickets');
  });

  it('a write is not offered: invalid_request', async () => {
    const res = await t.request(`/oauth/clients/${tickets.client_id}`, {
      method: 'PUT',
      headers: { authorization: basicAuth(tickets), 'content-type': 'application/json' },
      body: JSON.stringify({ actions: ['export_tickets'] }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect((await read(tickets.client_id, basicAuth(tickets))).body.actions).toEqual([
      'search_tickets',
      'read_ticket',
    ]);
  });
});
