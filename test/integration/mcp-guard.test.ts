// mandate/mcp end to end: the official MCP SDK client and server (Hono and Node, JSON and SSE) behind the guard, a real broker and Redis.
import {
  ClientCredentialsProvider,
  PrivateKeyJwtProvider,
} from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addTicketPolicies,
  REFUND_POLICIES,
  REFUND_TOOL,
  TICKET_TOOLS as SHARED_TICKET_TOOLS,
} from '../../scripts/mcp/tickets-policy.ts';
import {
  type RunningServer,
  serveHono,
  serveNode,
  TICKETS_RESOURCE,
} from '../../scripts/mcp/tickets-server.ts';
import { createMcpGuard, type McpGuard } from '../../src/client/mcp.ts';
import { ADMIN_TOKEN, admin, type Credentials, oauthPost } from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

/** The tools this server registers: the shared three and the refund tool, whose policy reads an argument. */
const TICKET_TOOLS = [...SHARED_TICKET_TOOLS, REFUND_TOOL];

interface Seen {
  readonly method: string;
  readonly status: number;
  readonly challenge: string | null;
  readonly contentType: string | null;
  readonly mcpMethod: string | undefined;
}

/** The global fetch, with every response to the MCP endpoint noted (what the SDK got, before it reacted). */
function observingFetch(endpoint: string, seen: Seen[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (url === endpoint) {
      let mcpMethod: string | undefined;
      try {
        mcpMethod = (JSON.parse(String(init?.body ?? '{}')) as { method?: string }).method;
      } catch {}
      seen.push({
        method: init?.method ?? 'GET',
        status: response.status,
        challenge: response.headers.get('www-authenticate'),
        contentType: response.headers.get('content-type'),
        mcpMethod,
      });
    }
    return response;
  };
}

/** What the agents ask for: the SDK's client_credentials request sends its provider's `scope`. */
const SCOPE = 'tools:search_tickets tools:read_ticket tools:export_tickets';

const toolText = (result: unknown) =>
  ((result as { content: { text: string }[] }).content[0]?.text ?? '') as string;

let broker: TestBroker;
let resourceSecret: Credentials;
let resourceKeyed: { client_id: string; privateJwk: JWK };
let agent: Credentials;
let keyedAgent: { client_id: string; privateJwk: JWK };
const servers: RunningServer[] = [];
const guards: McpGuard[] = [];
const ports = new Map<string, number>();

async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' },
    privateJwk: { ...(await exportJWK(privateKey)), alg: 'ES256' },
  };
}

beforeAll(async () => {
  broker = await startTestBroker({ name: 'mcp' });
  for (const variant of ['hono-json', 'hono-sse', 'node-json', 'node-sse', 'keyed'])
    ports.set(variant, await freePort());
  const resources = [...ports.values()].map((p) => `http://127.0.0.1:${p}/mcp`);
  // The MCP servers' resource clients register the tools as actions: the stock schema then knows them.
  resourceSecret = await broker.client({
    name: 'tickets MCP',
    kind: 'resource',
    resources,
    actions: [...TICKET_TOOLS],
  });
  const rk = await keyPair('tickets-key');
  const created = await admin<{ client: { client_id: string } }>(
    broker.url,
    'POST',
    '/admin/clients',
    {
      name: 'tickets MCP (keyed)',
      kind: 'resource',
      resources,
      actions: [...TICKET_TOOLS],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [rk.publicJwk] },
    },
  );
  expect(created.status).toBe(201);
  await addTicketPolicies(broker.url, ADMIN_TOKEN, REFUND_POLICIES);
  resourceKeyed = { client_id: created.body.client.client_id, privateJwk: rk.privateJwk };
  agent = await broker.client({ name: 'support agent', kind: 'agent' });
  const ak = await keyPair('agent-key');
  const keyed = await admin<{ client: { client_id: string } }>(
    broker.url,
    'POST',
    '/admin/clients',
    {
      name: 'keyed support agent',
      kind: 'agent',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [ak.publicJwk] },
    },
  );
  expect(keyed.status).toBe(201);
  keyedAgent = { client_id: keyed.body.client.client_id, privateJwk: ak.privateJwk };

  for (const [variant, port] of ports) {
    const resource = `http://127.0.0.1:${port}/mcp`;
    const guard = createMcpGuard({
      issuer: broker.issuer,
      ...(variant === 'keyed'
        ? { clientId: resourceKeyed.client_id, privateKey: resourceKeyed.privateJwk }
        : { clientId: resourceSecret.client_id, clientSecret: resourceSecret.client_secret }),
      resource,
      // The tool names come from the registration (its actions); one variant names them itself.
      ...(variant === 'hono-json' ? { tools: [...TICKET_TOOLS] } : {}),
      // What policy sees of a call: per tool by name, or (one variant) one function for all.
      context:
        variant === 'keyed'
          ? (tool, args) =>
              tool === 'search_tickets'
                ? { query: args.query }
                : tool === 'refund_ticket'
                  ? { amount: args.amount }
                  : undefined
          : { search_tickets: ['query'], refund_ticket: ['amount'] },
    });
    guards.push(guard);
    const json = variant.endsWith('json');
    servers.push(
      variant.startsWith('node')
        ? await serveNode(port, json, guard.node())
        : await serveHono(port, json, guard.hono()),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const g of guards) g.close();
  await broker?.close();
});

/** An official SDK client of the variant's server, authenticating as the agent (secret or private key). */
async function connect(
  variant: string,
  keyed = false,
  at?: { endpoint?: string; issuer?: string; agent?: Credentials; scope?: string },
) {
  const endpoint = at?.endpoint ?? `http://127.0.0.1:${ports.get(variant)}/mcp`;
  const issuer = at?.issuer ?? broker.issuer;
  const provider = keyed
    ? new PrivateKeyJwtProvider({
        clientId: keyedAgent.client_id,
        privateKey: keyedAgent.privateJwk as Record<string, unknown>,
        algorithm: 'ES256',
        expectedIssuer: issuer,
        scope: at?.scope ?? SCOPE,
      })
    : new ClientCredentialsProvider({
        clientId: (at?.agent ?? agent).client_id,
        clientSecret: (at?.agent ?? agent).client_secret,
        expectedIssuer: issuer,
        scope: at?.scope ?? SCOPE,
      });
  const seen: Seen[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    authProvider: provider,
    fetch: observingFetch(endpoint, seen),
  });
  const client = new Client({ name: 'support-agent', version: '1.0.0' });
  await client.connect(transport);
  const grantId = () => {
    const token = provider.tokens()?.access_token;
    return token ? (decodeJwt(token).grant_id as string) : '';
  };
  const token = () => provider.tokens()?.access_token ?? '';
  return { client, seen, grantId, token, endpoint, close: () => client.close() };
}

interface DecisionRecord {
  kind: string;
  outcome: string;
  grant_id?: string;
  reasons: string[];
  inputs: { request?: { action?: { name?: string } } } & Record<string, unknown>;
}

async function decisionsOf(grantId: string): Promise<DecisionRecord[]> {
  const res = await admin<{ decisions: DecisionRecord[] }>(
    broker.url,
    'GET',
    `/admin/decisions?grant_id=${encodeURIComponent(grantId)}&limit=50`,
  );
  expect(res.status).toBe(200);
  return res.body.decisions;
}

describe.each([
  ['hono-json', false],
  ['hono-sse', false],
  ['node-json', false],
  ['node-sse', false],
  ['keyed', true],
] as const)(
  'the official SDK client through mandate/mcp (%s, private key agent: %s)',
  (variant, keyed) => {
    it('discovers Mandate, lists only granted tools, is permitted one call and refused another with its scope', async () => {
      const mcp = await connect(variant, keyed);
      try {
        // The first request got the 401 that pointed the SDK at the metadata and on to Mandate.
        expect(mcp.seen[0]?.status).toBe(401);
        expect(mcp.seen[0]?.challenge).toContain(
          `resource_metadata="http://127.0.0.1:${ports.get(variant)}/.well-known/oauth-protected-resource/mcp"`,
        );
        const grant = mcp.grantId();
        expect(grant).toMatch(/^g_/);

        const listed = await mcp.client.listTools();
        expect(listed.tools.map((t) => t.name).sort()).toEqual(['read_ticket', 'search_tickets']);
        // The narrowed answer came in the server's own framing.
        const list = mcp.seen.find((s) => s.mcpMethod === 'tools/list');
        expect(list?.contentType).toMatch(
          variant.endsWith('json') ? /^application\/json/ : /^text\/event-stream/,
        );

        const found = await mcp.client.callTool({
          name: 'search_tickets',
          arguments: { query: 'printer' },
        });
        expect(toolText(found)).toContain('T-1');

        // The server exposes the query to policy, which forbids searching for salaries.
        mcp.seen.length = 0;
        await expect(
          mcp.client.callTool({ name: 'search_tickets', arguments: { query: 'salaries 2026' } }),
        ).rejects.toThrow();
        expect(mcp.seen.find((s) => s.mcpMethod === 'tools/call')?.status).toBe(403);
        const stepUps = [mcp.grantId()];

        mcp.seen.length = 0;
        await expect(
          mcp.client.callTool({ name: 'export_tickets', arguments: { format: 'csv' } }),
        ).rejects.toThrow();
        const refused = mcp.seen.find((s) => s.mcpMethod === 'tools/call');
        expect(refused?.status).toBe(403);
        expect(refused?.challenge).toMatch(/error="insufficient_scope"/);
        expect(refused?.challenge).toMatch(/scope="[^"]*tools:export_tickets[^"]*"/);
        expect(refused?.challenge).toContain('resource_metadata="');

        // Every call was a decision, with the tool as the action (the SDK's step-up after each
        // 403 asked for a new grant, so the refusals may sit on a later grant).
        const grants = [...new Set([grant, ...stepUps, mcp.grantId()])];
        const records = (await Promise.all(grants.map(decisionsOf))).flat();
        const outcomes = records
          .filter((r) => r.kind === 'evaluation')
          .map(
            (r) =>
              `${JSON.stringify(r.inputs).match(/"(search_tickets|export_tickets)"/)?.[1]}:${r.outcome}:${r.reasons.join(',')}`,
          );
        expect(outcomes.some((o) => o.startsWith('search_tickets:permit'))).toBe(true);
        expect(
          outcomes.some((o) => /^search_tickets:deny:.*tickets-no-salary-search/.test(o)),
        ).toBe(true);
        expect(outcomes.some((o) => /^export_tickets:deny:/.test(o))).toBe(true);
      } finally {
        await mcp.close();
      }
    }, 30_000);
  },
);

describe('revocation reaches the MCP server at the next call', () => {
  it('an admin revocation: the next tools/call is 401 invalid_token (the SDK then asks for a new grant)', async () => {
    const mcp = await connect('hono-sse');
    try {
      await mcp.client.callTool({ name: 'read_ticket', arguments: { id: 'T-2' } });
      const first = mcp.grantId();
      const oldToken = mcp.token();
      const revoked = await admin(broker.url, 'POST', '/admin/revocations', {
        grant_id: first,
        reason: 'test',
      });
      expect(revoked.status).toBe(200);
      mcp.seen.length = 0;
      await mcp.client.callTool({ name: 'read_ticket', arguments: { id: 'T-2' } });
      const calls = mcp.seen.filter((s) => s.mcpMethod === 'tools/call');
      expect(calls[0]?.status).toBe(401);
      expect(calls[0]?.challenge).toMatch(/error="invalid_token"/);
      // Policy decided afresh: a new grant, not the revoked one.
      expect(calls[1]?.status).toBe(200);
      expect(mcp.grantId()).not.toBe(first);
      // The guard remembers the grant ended: its old token cannot even list tools now.
      const listed = await fetch(mcp.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${oldToken}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(listed.status).toBe(401);
      expect(listed.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      await listed.body?.cancel();
    } finally {
      await mcp.close();
    }
  }, 30_000);

  it('a prompt_changed signal revokes the grant: the next tools/call is 401 invalid_token', async () => {
    const mcp = await connect('node-json', true);
    try {
      await mcp.client.callTool({ name: 'search_tickets', arguments: { query: 'invoice' } });
      const grant = mcp.grantId();
      const signal = await admin(broker.url, 'POST', '/v1/signals', {
        grant_id: grant,
        type: 'prompt_changed',
        context: { actions: ['export_tickets'] },
      });
      expect(signal.status).toBe(202);
      mcp.seen.length = 0;
      await mcp.client.callTool({ name: 'search_tickets', arguments: { query: 'invoice' } });
      const first = mcp.seen.find((s) => s.mcpMethod === 'tools/call');
      expect(first?.status).toBe(401);
      expect(first?.challenge).toMatch(/error="invalid_token"/);
      const records = await decisionsOf(grant);
      expect(records.some((r) => r.kind === 'reevaluation' && r.outcome === 'revoke')).toBe(true);
    } finally {
      await mcp.close();
    }
  }, 30_000);
});

describe('every request that reaches data proves its grant live at that moment', () => {
  /** A JSON-RPC POST of `method` with `token`, outside the SDK (no retry, no new grant). */
  const rpc = (endpoint: string, token: string, method: string, params: unknown = {}) =>
    fetch(endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method, params }),
    });

  it.each([
    ['node-sse', false],
    ['hono-json', true],
  ] as const)(
    'after an admin revocation the next resources/read and prompts/get are 401 invalid_token (%s)',
    async (variant, keyed) => {
      const mcp = await connect(variant, keyed);
      try {
        const before = await decisionsOf(mcp.grantId());
        const read = await mcp.client.readResource({ uri: TICKETS_RESOURCE });
        expect(JSON.stringify(read.contents)).toContain('Printer on fire');
        const prompt = await mcp.client.getPrompt({ name: 'triage', arguments: { id: 'T-2' } });
        expect(JSON.stringify(prompt.messages)).toContain('Password reset loop');
        // A live token's confirmation is an introspection, which records no decision.
        expect(await decisionsOf(mcp.grantId())).toHaveLength(before.length);

        for (const method of ['resources/read', 'prompts/get'] as const) {
          const grant = mcp.grantId();
          const oldToken = mcp.token();
          const revoked = await admin(broker.url, 'POST', '/admin/revocations', {
            grant_id: grant,
            reason: 'test',
          });
          expect(revoked.status).toBe(200);
          mcp.seen.length = 0;
          const answer =
            method === 'resources/read'
              ? await mcp.client.readResource({ uri: TICKETS_RESOURCE })
              : await mcp.client.getPrompt({ name: 'triage', arguments: { id: 'T-1' } });
          expect(JSON.stringify(answer)).toContain('Printer on fire');
          const sent = mcp.seen.filter((s) => s.mcpMethod === method);
          expect(sent[0]?.status).toBe(401);
          expect(sent[0]?.challenge).toMatch(/error="invalid_token"/);
          // The SDK then asked for a new grant, which policy decided afresh.
          expect(sent[1]?.status).toBe(200);
          expect(mcp.grantId()).not.toBe(grant);
          const records = await decisionsOf(grant);
          expect(
            records.some(
              (r) =>
                r.kind === 'introspection' &&
                r.outcome === 'inactive' &&
                r.reasons.includes('grant_inactive'),
            ),
          ).toBe(true);
          // Nor does the revoked token list resources, prompts or tools.
          for (const other of ['resources/list', 'prompts/list', 'tools/list']) {
            const res = await rpc(mcp.endpoint, oldToken, other);
            expect(res.status, other).toBe(401);
            expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
            expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32001);
          }
        }
      } finally {
        await mcp.close();
      }
    },
    30_000,
  );

  it('a prompt_changed signal ends the grant: the next resources/read is 401 invalid_token', async () => {
    const mcp = await connect('node-json', true);
    try {
      await mcp.client.readResource({ uri: TICKETS_RESOURCE });
      const grant = mcp.grantId();
      const signal = await admin(broker.url, 'POST', '/v1/signals', {
        grant_id: grant,
        type: 'prompt_changed',
        context: { actions: ['export_tickets'] },
      });
      expect(signal.status).toBe(202);
      mcp.seen.length = 0;
      await mcp.client.readResource({ uri: TICKETS_RESOURCE });
      const first = mcp.seen.find((s) => s.mcpMethod === 'resources/read');
      expect(first?.status).toBe(401);
      expect(first?.challenge).toMatch(/error="invalid_token"/);
      expect(mcp.grantId()).not.toBe(grant);
    } finally {
      await mcp.close();
    }
  }, 30_000);

  it('with Mandate down, resources/read, prompts/get and the lists are refused 503, never served', async () => {
    const own = await startTestBroker({ name: 'mcp-down' });
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}/mcp`;
    let mcp: Awaited<ReturnType<typeof connect>> | undefined;
    let server: RunningServer | undefined;
    let guard: McpGuard | undefined;
    try {
      const rc = await own.client({
        name: 'tickets MCP',
        kind: 'resource',
        resources: [endpoint],
        actions: [...TICKET_TOOLS],
      });
      await addTicketPolicies(own.url, ADMIN_TOKEN);
      const ownAgent = await own.client({ name: 'support agent', kind: 'agent' });
      guard = createMcpGuard({
        issuer: own.issuer,
        clientId: rc.client_id,
        clientSecret: rc.client_secret,
        resource: endpoint,
        tools: [...TICKET_TOOLS],
      });
      server = await serveNode(port, false, guard.node());
      mcp = await connect('', false, { endpoint, issuer: own.issuer, agent: ownAgent });
      const read = await mcp.client.readResource({ uri: TICKETS_RESOURCE });
      expect(JSON.stringify(read.contents)).toContain('Printer on fire');
      const token = mcp.token();

      await own.close();
      mcp.seen.length = 0;
      await expect(mcp.client.readResource({ uri: TICKETS_RESOURCE })).rejects.toThrow();
      await expect(
        mcp.client.getPrompt({ name: 'triage', arguments: { id: 'T-1' } }),
      ).rejects.toThrow();
      expect(mcp.seen.find((s) => s.mcpMethod === 'resources/read')?.status).toBe(503);
      expect(mcp.seen.find((s) => s.mcpMethod === 'prompts/get')?.status).toBe(503);
      expect(mcp.seen.every((s) => s.status === 503)).toBe(true);
      for (const [method, params] of [
        ['resources/read', { uri: TICKETS_RESOURCE }],
        ['prompts/get', { name: 'triage', arguments: { id: 'T-1' } }],
        ['resources/list', {}],
        ['prompts/list', {}],
        ['tools/list', {}],
      ] as const) {
        const res = await rpc(endpoint, token, method, params);
        expect(res.status, method).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        const text = await res.text();
        expect(JSON.parse(text)).toMatchObject({ jsonrpc: '2.0', id: 3, error: { code: -32001 } });
        expect(text).not.toContain('Printer');
      }
    } finally {
      await mcp?.close().catch(() => undefined);
      await server?.close();
      guard?.close();
      await own.close();
    }
  }, 30_000);
});

describe('tool arguments: only what the server selects reaches Mandate', () => {
  it.each([
    ['hono-json', false],
    ['keyed', true],
  ] as const)(
    'policy reads the selected amount; the note and id never reach a decision record (%s)',
    async (variant, keyed) => {
      const mcp = await connect(variant, keyed, { scope: 'tools:refund_ticket tools:read_ticket' });
      const canary = `note-${crypto.randomUUID()}`;
      try {
        const grants = [mcp.grantId()];
        const refunded = await mcp.client.callTool({
          name: 'refund_ticket',
          arguments: { id: 'T-3', amount: 40, note: canary },
        });
        expect(toolText(refunded)).toContain('"amount":40');
        mcp.seen.length = 0;
        await expect(
          mcp.client.callTool({
            name: 'refund_ticket',
            arguments: { id: 'T-3', amount: 250, note: canary },
          }),
        ).rejects.toThrow();
        expect(mcp.seen.find((s) => s.mcpMethod === 'tools/call')?.status).toBe(403);
        grants.push(mcp.grantId());

        const records = (await Promise.all([...new Set(grants)].map(decisionsOf)))
          .flat()
          .filter(
            (r) => r.kind === 'evaluation' && JSON.stringify(r.inputs).includes('refund_ticket'),
          );
        const shown = records.map((r) => ({
          outcome: r.outcome,
          reasons: r.reasons,
          args: (r.inputs.context as { tool?: { arguments?: unknown } } | undefined)?.tool
            ?.arguments,
        }));
        expect(shown).toContainEqual(
          expect.objectContaining({ outcome: 'permit', args: { amount: 40 } }),
        );
        expect(shown).toContainEqual(
          expect.objectContaining({
            outcome: 'deny',
            args: { amount: 250 },
            reasons: expect.arrayContaining([expect.stringContaining('tickets-refund-under-100')]),
          }),
        );
        const text = JSON.stringify(records);
        expect(text).not.toContain(canary);
        expect(text).not.toContain('"note"');
        expect(text).not.toContain('T-3');
      } finally {
        await mcp.close();
      }
    },
    30_000,
  );

  it('a selected argument policy cannot read (a fraction, a 2 KB string) is refused 400 -32602, Mandate not asked', async () => {
    const mcp = await connect('node-json', false, {
      scope: 'tools:refund_ticket tools:search_tickets',
    });
    try {
      const token = mcp.token();
      const before = (await decisionsOf(mcp.grantId())).length;
      for (const [name, args] of [
        ['refund_ticket', { id: 'T-1', amount: 9.5 }],
        ['search_tickets', { query: 'x'.repeat(2048) }],
      ] as const) {
        const res = await fetch(mcp.endpoint, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 5,
            method: 'tools/call',
            params: { name, arguments: args },
          }),
        });
        expect(res.status, name).toBe(400);
        expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 5, error: { code: -32602 } });
      }
      expect(await decisionsOf(mcp.grantId())).toHaveLength(before);
      // Without a token the answer is the 401, whatever the arguments.
      const anonymous = await fetch(mcp.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 6,
          method: 'tools/call',
          params: { name: 'refund_ticket', arguments: { id: 'T-1', amount: 9.5 } },
        }),
      });
      expect(anonymous.status).toBe(401);
      await anonymous.body?.cancel();
    } finally {
      await mcp.close();
    }
  }, 30_000);
});

describe('bad input at the MCP endpoint', () => {
  const endpoint = () => `http://127.0.0.1:${ports.get('node-json')}/mcp`;
  const call = (name: string, id = 7) =>
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: { query: 'x' } },
    });
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(endpoint(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body,
    });
  let token: string;

  /** A token of the agent for `scope` on `resource`, from Mandate's token endpoint. */
  const toolToken = async (scope: string, resource: string) => {
    const minted = await oauthPost(
      broker.url,
      '/oauth/token',
      { grant_type: 'client_credentials', scope, resource },
      agent,
    );
    expect(minted.status).toBe(200);
    return (minted.body as { access_token: string }).access_token;
  };

  beforeAll(async () => {
    token = await toolToken('tools:search_tickets', endpoint());
  });

  it('serves RFC 9728 metadata naming Mandate and the tool scopes', async () => {
    const res = await fetch(
      `http://127.0.0.1:${ports.get('node-json')}/.well-known/oauth-protected-resource/mcp`,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      resource: endpoint(),
      authorization_servers: [broker.issuer],
      scopes_supported: TICKET_TOOLS.map((t) => `tools:${t}`),
    });
  });

  it('takes the tool names from the registration when not given, also for a keyed resource client', async () => {
    for (const variant of ['keyed', 'hono-json', 'node-sse']) {
      const res = await fetch(
        `http://127.0.0.1:${ports.get(variant)}/.well-known/oauth-protected-resource/mcp`,
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      expect(((await res.json()) as { scopes_supported?: string[] }).scopes_supported).toEqual(
        TICKET_TOOLS.map((t) => `tools:${t}`),
      );
    }
  });

  it('a guard that cannot read its registration serves metadata without scopes, and no token passes', async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const wrong = createMcpGuard({
      issuer: broker.issuer,
      clientId: resourceSecret.client_id,
      clientSecret: `${resourceSecret.client_secret}x`,
      resource,
    });
    const server = await serveNode(port, true, wrong.node());
    try {
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ resource, authorization_servers: [broker.issuer] });
      expect(body).not.toHaveProperty('scopes_supported');
    } finally {
      await server.close();
      wrong.close();
    }
  });

  it('a request without a token: 401 with resource_metadata', async () => {
    const res = await post(call('search_tickets'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="[^"]+", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
    await res.body?.cancel();
  });

  it('a token for another resource: 401 invalid_token', async () => {
    const other = `http://127.0.0.1:${ports.get('hono-json')}/mcp`;
    // The bare tool name is a scope too.
    const foreign = await toolToken('search_tickets', other);
    const res = await post(call('search_tickets'), { authorization: `Bearer ${foreign}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32001);
  });

  it('Mcp-Method / Mcp-Name headers that disagree with the body: 400 JSON-RPC error, nothing decided', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const named = await post(call('search_tickets'), {
      ...auth,
      'mcp-method': 'tools/call',
      'mcp-name': 'export_tickets',
    });
    expect(named.status).toBe(400);
    expect(await named.json()).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32600 } });
    const method = await post(call('search_tickets'), { ...auth, 'mcp-method': 'tools/list' });
    expect(method.status).toBe(400);
    await method.body?.cancel();
    const agreeing = await post(call('search_tickets'), {
      ...auth,
      'mcp-method': 'tools/call',
      'mcp-name': 'search_tickets',
    });
    expect(agreeing.status).toBe(200);
    await agreeing.body?.cancel();
  });

  it('malformed JSON-RPC: JSON-RPC errors (parse error, invalid request), too large: 413', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const broken = await post('{"jsonrpc":', auth);
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ id: null, error: { code: -32700 } });
    const notRpc = await post('{"hello":"world"}', auth);
    expect(notRpc.status).toBe(400);
    expect(await notRpc.json()).toMatchObject({ error: { code: -32600 } });
    const noName = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} }),
      auth,
    );
    expect(noName.status).toBe(400);
    await noName.body?.cancel();
    const huge = await post(call('x'.repeat(2 * 1024 * 1024)), auth);
    expect(huge.status).toBe(413);
    await huge.body?.cancel();
  });
});

describe('tool names follow the registration', () => {
  it('a guard reads the registered actions again after 5 minutes, not before', async () => {
    let nowMs = Date.now();
    const mcpGuard = createMcpGuard({
      issuer: broker.issuer,
      clientId: resourceSecret.client_id,
      clientSecret: resourceSecret.client_secret,
      resource: `http://127.0.0.1:${await freePort()}/mcp`,
      now: () => nowMs,
    });
    try {
      const scopes = async () => (await mcpGuard.metadata()).scopes_supported;
      expect(await scopes()).toEqual(TICKET_TOOLS.map((t) => `tools:${t}`));
      const patched = await admin(
        broker.url,
        'PATCH',
        `/admin/clients/${resourceSecret.client_id}`,
        {
          actions: [...TICKET_TOOLS, 'close_ticket'],
        },
      );
      expect(patched.status, patched.text).toBe(200);
      nowMs += 299_000;
      expect(await scopes()).not.toContain('tools:close_ticket');
      nowMs += 2_000;
      expect(await scopes()).toContain('tools:close_ticket');
    } finally {
      mcpGuard.close();
      await admin(broker.url, 'PATCH', `/admin/clients/${resourceSecret.client_id}`, {
        actions: [...TICKET_TOOLS],
      });
    }
  });
});
