// The MCP guard's Hono middleware through app.request(), Mandate answered in memory: what it passes, refuses and narrows.
import { Hono } from 'hono';
import { beforeEach, describe, expect, it } from 'vitest';
import { createMcpGuard, type McpGuard, type McpVariables } from '../../../src/client/mcp.ts';
import { createFakeIssuer, type FakeIssuer, ISSUER, json } from './fake-issuer.ts';

const MCP = 'https://mcp.example.com/mcp';
const TOOLS = [{ name: 'search_tickets' }, { name: 'export_tickets' }];

let fake: FakeIssuer;
let mcp: McpGuard;
let app: Hono<{ Variables: McpVariables }>;
let seenAuth: McpVariables['mcpAuth'] | undefined;
let answerAs: 'json' | 'sse';

beforeEach(async () => {
  fake = await createFakeIssuer();
  fake.on('POST /access/v1/evaluation', () => json({ decision: true }));
  mcp = createMcpGuard({
    issuer: ISSUER,
    clientId: 'tickets-mcp',
    clientSecret: 'secret',
    resource: 'HTTPS://MCP.example.com/mcp/',
    tools: ['search_tickets', 'read_ticket', 'export_tickets'],
    initialTools: ['search_tickets'],
    context: (tool, args) => (tool === 'refund' ? { amount: args.amount } : undefined),
    fetch: fake.fetch,
  });
  seenAuth = undefined;
  answerAs = 'json';
  app = new Hono<{ Variables: McpVariables }>();
  app.use(mcp.hono());
  app.get('/health', (c) => c.text('ok'));
  app.all('/mcp', (c) => {
    seenAuth = c.get('mcpAuth');
    const body = c.get('mcpBody') as { id?: number } | undefined;
    const answer = JSON.stringify({ jsonrpc: '2.0', id: body?.id ?? 1, result: { tools: TOOLS } });
    return answerAs === 'json'
      ? c.body(answer, 200, { 'content-type': 'application/json' })
      : c.body(`event: message\ndata: ${answer}\n\n`, 200, { 'content-type': 'text/event-stream' });
  });
});

const token = (actions: string[]) =>
  fake.sign({
    aud: [MCP],
    authorization_details: [{ type: 'agent_task', task_id: 'T-1', actions, locations: [MCP] }],
  });

const rpc = (method: string, params?: unknown, auth?: string) =>
  app.request('https://mcp.example.com/mcp', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(auth ? { authorization: `Bearer ${auth}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 3, method, ...(params ? { params } : {}) }),
  });

describe('mcp.hono()', () => {
  it('serves the metadata of the canonical resource and lets other paths and preflights through', async () => {
    const meta = await app.request(
      'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    );
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({
      resource: MCP,
      authorization_servers: [ISSUER],
      scopes_supported: ['tools:search_tickets', 'tools:read_ticket', 'tools:export_tickets'],
    });
    expect((await app.request('https://mcp.example.com/health')).status).toBe(200);
    expect((await app.request(MCP, { method: 'OPTIONS' })).status).not.toBe(401);
  });

  it('answers a request without a token 401 naming the metadata and the tools to ask for first', async () => {
    const res = await rpc('tools/list');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="${MCP}", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="tools:search_tickets"`,
    );
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
  });

  it('narrows tools/list to the grant, in JSON and in SSE, once Mandate confirmed the token live', async () => {
    fake.on('POST /oauth/introspect', () => json({ active: true, client_id: 'agent-1' }));
    const t = await token(['search_tickets']);
    for (const mode of ['json', 'sse'] as const) {
      answerAs = mode;
      const res = await rpc('tools/list', undefined, t);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('search_tickets');
      expect(text).not.toContain('export_tickets');
    }
    // Liveness is an introspection per request, never a decision (no action is named).
    expect(fake.count('POST /oauth/introspect')).toBe(2);
    expect(fake.count('POST /access/v1/evaluation')).toBe(0);
    expect(seenAuth).toMatchObject({ clientId: 'agent-1', scopes: ['tools:search_tickets'] });
  });

  it('refuses a request that reaches data when the token is inactive (401) or Mandate cannot answer (503)', async () => {
    const t = await token(['search_tickets']);
    fake.on('POST /oauth/introspect', () => json({ active: false }));
    const inactive = await rpc('resources/read', { uri: 'tickets://all' }, t);
    expect(inactive.status).toBe(401);
    expect(inactive.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(await inactive.json()).toMatchObject({ id: 3, error: { code: -32001 } });
    fake.on('POST /oauth/introspect', () => json({ error: 'server_error' }, 500));
    const down = await rpc('prompts/get', { name: 'triage' }, t);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(await down.json()).toMatchObject({ id: 3, error: { code: -32001 } });
    expect(seenAuth).toBeUndefined();
    // A notification answers with no data: the offline check suffices.
    const note = await app.request(MCP, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${t}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    expect(note.status).toBe(200);
    expect(fake.count('POST /oauth/introspect')).toBe(2);
  });

  it('decides a tools/call with the tool as the action and the exposed arguments as context', async () => {
    const res = await rpc(
      'tools/call',
      { name: 'refund', arguments: { amount: 50, note: 'x' } },
      await token(['refund']),
    );
    expect(res.status).toBe(200);
    const [asked] = fake.seen.filter((r) => r.path === '/access/v1/evaluation');
    expect(asked?.json).toMatchObject({
      action: { name: 'refund' },
      resource: { type: 'resource', id: MCP },
      context: { tool: { arguments: { amount: 50 } } },
    });
    expect(JSON.stringify(asked?.json)).not.toContain('note');
  });

  it('per-tool selection by name: only own keys of the map select, the rest never leaves', async () => {
    const perTool = createMcpGuard({
      issuer: ISSUER,
      clientId: 'tickets-mcp',
      clientSecret: 'secret',
      resource: MCP,
      tools: ['refund', 'constructor'],
      context: { refund: ['amount', 'missing'] },
      fetch: fake.fetch,
    });
    const app2 = new Hono<{ Variables: McpVariables }>();
    app2.use(perTool.hono());
    app2.all('/mcp', (c) => c.json({ jsonrpc: '2.0', id: 3, result: {} }));
    const call = async (name: string, args: Record<string, unknown>) =>
      app2.request(MCP, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${await token([name])}`,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 3,
          method: 'tools/call',
          params: { name, arguments: args },
        }),
      });
    try {
      expect((await call('refund', { amount: 50, note: 'secret note' })).status).toBe(200);
      expect((await call('constructor', { amount: 50 })).status).toBe(200);
      const asked = fake.seen.filter((r) => r.path === '/access/v1/evaluation');
      expect(asked[0]?.json).toMatchObject({ context: { tool: { arguments: { amount: 50 } } } });
      expect(JSON.stringify(asked[0]?.json)).not.toContain('note');
      expect(JSON.stringify(asked[0]?.json)).not.toContain('missing');
      expect(asked[1]?.json).not.toHaveProperty('context.tool');
      const refused = await call('refund', { amount: 1.5 });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ id: 3, error: { code: -32602 } });
      expect(fake.count('POST /access/v1/evaluation')).toBe(2);
    } finally {
      perTool.close();
    }
    expect(() =>
      createMcpGuard({
        issuer: ISSUER,
        clientId: 'tickets-mcp',
        clientSecret: 'secret',
        resource: MCP,
        context: { refund: 'amount' as unknown as string[] },
      }),
    ).toThrow(TypeError);
  });

  it('maps a refusal to 403 with the step-up scope, an ended grant to 401 (and remembers it)', async () => {
    const t = await token(['search_tickets']);
    fake.on('POST /access/v1/evaluation', () =>
      json({ decision: false, context: { reason_admin: { code: 'outside_grant' } } }),
    );
    const refused = await rpc('tools/call', { name: 'export_tickets' }, t);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(
      /error="insufficient_scope".*resource_metadata=".*", scope="tools:search_tickets tools:export_tickets"$/,
    );
    fake.on('POST /access/v1/evaluation', () =>
      json({ decision: false, context: { reason_admin: { code: 'grant_revoked' } } }),
    );
    const revoked = await rpc('tools/call', { name: 'search_tickets' }, t);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    // Known ended: refused offline, listing included.
    const listed = await rpc('tools/list', undefined, t);
    expect(listed.status).toBe(401);
  });

  it('fails closed with 503 when Mandate cannot decide', async () => {
    fake.on('POST /access/v1/evaluation', () => json({}, 500));
    const res = await rpc(
      'tools/call',
      { name: 'search_tickets' },
      await token(['search_tickets']),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });
});
