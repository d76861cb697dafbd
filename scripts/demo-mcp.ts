// `npm run demo:mcp`: a person signs in for an MCP client, then an agent on the official MCP SDK uses a ticket MCP server behind mandate/mcp; approval, then revocation mid-task.
// Uses MANDATE_URL + MANDATE_ADMIN_TOKEN when given (no sign-in then); otherwise starts its own broker and upstream IdP. The tools become Cedar actions by registration.
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { createMcpGuard } from '../src/client/mcp.ts';
import { adminCall, type Broker, freePort, register, runDemo, say } from './demo-broker.ts';
import {
  BrowserDrivenProvider,
  consentText,
  signInAndConnect,
  startRedirectListener,
} from './mcp/person-client.ts';
import { addTicketPolicies, TICKET_TOOLS } from './mcp/tickets-policy.ts';
import { serveHono } from './mcp/tickets-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from './mcp/upstream-idp.ts';

/** What the agent's HTTP client saw last from the MCP server and from Mandate's token endpoint. */
interface Observed {
  mcp?: { status: number; challenge: string };
  tokenError?: { error?: string; auth_req_id?: string };
}

/**
 * The official client-credentials provider for one task: once the MCP server says the task's token
 * is no longer active, the agent asks for no new one (a new task goes through policy afresh).
 */
class TaskProvider extends ClientCredentialsProvider {
  ended = false;
  override prepareTokenRequest(scope?: string): URLSearchParams {
    if (this.ended) throw new Error('the task was revoked; start a new one');
    return super.prepareTokenRequest(scope);
  }
}

/** An official SDK client of the MCP server, authenticating through `provider`. */
async function connectAgent(endpoint: string, provider: TaskProvider, seen: Observed) {
  const observing: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (url === endpoint) {
      const challenge = response.headers.get('www-authenticate') ?? '';
      seen.mcp = { status: response.status, challenge };
      if (/error="invalid_token"/.test(challenge)) provider.ended = true;
    } else if (url.endsWith('/oauth/token') && !response.ok) {
      seen.tokenError = (await response.clone().json()) as Observed['tokenError'];
    }
    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    authProvider: provider,
    fetch: observing,
  });
  const client = new Client({ name: 'support-agent', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

const grantOf = (provider: TaskProvider) => {
  const token = provider.tokens()?.access_token;
  return token ? String(decodeJwt(token).grant_id) : '';
};
const textOf = (result: unknown) =>
  (result as { content?: { text?: string }[] }).content?.[0]?.text ?? '';
const errorOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * A person signs in for an MCP client (a public client, code + PKCE): its provider's browser step
 * goes through the upstream IdP and Mandate's consent page; the client then acts for the person.
 */
async function personSignsIn(
  broker: Broker,
  endpoint: string,
  suffix: string,
  expect: (cond: boolean, line: string) => void,
): Promise<void> {
  const clientId = `ticket-desk-${suffix}`;
  await register(broker, {
    client_id: clientId,
    name: 'Ticket desk',
    kind: 'agent',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
  });
  const listener = await startRedirectListener();
  const provider = new BrowserDrivenProvider(listener, 'alice', undefined, clientId);
  try {
    const { client } = await signInAndConnect(endpoint, provider);
    const consent = consentText(provider.consentHtml);
    const allowed = /allowed to (.*?) Refused/.exec(consent)?.[1]?.match(/\w+_tickets?/g) ?? [];
    const refused = /Refused by policy (\w+)/.exec(consent)?.[1] ?? '';
    expect(
      allowed.length > 0 && refused === 'export_tickets',
      `alice signs in at the upstream IdP for ${clientId} (code + PKCE); the consent page allows ${allowed.join(', ')} and shows ${refused} refused by policy`,
    );
    const tools = (await client.listTools()).tools.map((t) => t.name);
    const found = await client.callTool({
      name: 'search_tickets',
      arguments: { query: 'printer' },
    });
    const sub = String(decodeJwt(provider.tokens()?.access_token ?? '').sub);
    expect(
      tools.join(',') === 'search_tickets,read_ticket' && textOf(found).includes('T-1'),
      `${clientId} acts for ${sub}: tools/list -> ${tools.join(', ')}; search_tickets("printer") -> ${textOf(found)}`,
    );
    await client.close();
  } finally {
    listener.close();
  }
}

/** Runs the story; true when every step went as expected. */
async function tellStory(broker: Broker): Promise<boolean> {
  let ok = true;
  const expect = (cond: boolean, line: string) => {
    say(`${cond ? '✓' : '✗'} ${line}`);
    ok &&= cond;
  };
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}/mcp`;
  const suffix = randomBytes(3).toString('hex');
  const mcpCreds = await register(broker, {
    client_id: `tickets-mcp-${suffix}`,
    name: 'tickets MCP server',
    kind: 'resource',
    resources: [endpoint],
    actions: [...TICKET_TOOLS],
  });
  await addTicketPolicies(broker.url, broker.adminToken);
  const agentCreds = await register(broker, {
    client_id: `support-agent-${suffix}`,
    name: 'support agent',
    kind: 'agent',
    groups: ['exporters'],
  });
  const guard = createMcpGuard({
    issuer: broker.issuer,
    clientId: mcpCreds.id,
    clientSecret: mcpCreds.secret,
    resource: endpoint,
  });
  const server = await serveHono(port, false, guard.hono());
  const advertised = (await guard.metadata()).scopes_supported ?? [];
  say(
    `MCP server ${endpoint} behind mandate/mcp, its tools registered as actions: ${advertised.join(' ')}`,
  );
  // A person signs in for an MCP client with a redirect URL (when this demo runs the upstream IdP).
  if (idp) await personSignsIn(broker, endpoint, suffix, expect);
  // This agent runs machine-to-machine.
  const provider = (scope: string) =>
    new TaskProvider({
      clientId: agentCreds.id,
      clientSecret: agentCreds.secret,
      expectedIssuer: broker.issuer,
      scope,
    });
  try {
    const seen: Observed = {};
    const reader = provider('tools:search_tickets tools:read_ticket');
    const agent = await connectAgent(endpoint, reader, seen);
    expect(
      grantOf(reader).startsWith('g_'),
      `agent ${agentCreds.id} connected: 401 -> RFC 9728 metadata -> Mandate -> token of grant ${grantOf(reader)}`,
    );
    const tools = (await agent.listTools()).tools.map((t) => t.name);
    expect(
      tools.join(',') === 'search_tickets,read_ticket',
      `tools/list shows what the grant allows: ${tools.join(', ')}`,
    );
    const found = await agent.callTool({ name: 'search_tickets', arguments: { query: 'invoice' } });
    expect(
      textOf(found).includes('T-3'),
      `search_tickets("invoice") -> ${seen.mcp?.status} ${textOf(found)}`,
    );
    await agent
      .callTool({ name: 'export_tickets', arguments: { format: 'csv' } })
      .catch(() => undefined);
    const scope = /scope="([^"]*)"/.exec(seen.mcp?.challenge ?? '')?.[1] ?? '';
    expect(
      seen.mcp?.status === 403 && scope.includes('tools:export_tickets'),
      `export_tickets is refused: ${seen.mcp?.status} insufficient_scope, step up to scope "${scope}"`,
    );
    await agent.close();

    const exporter = provider(scope);
    const asked = await connectAgent(endpoint, exporter, seen).then(() => 'granted', errorOf);
    const authReqId = seen.tokenError?.auth_req_id ?? '';
    expect(
      seen.tokenError?.error === 'approval_required' && authReqId !== '',
      `the agent asks Mandate for export_tickets: ${seen.tokenError?.error ?? asked} (auth_req_id ${authReqId})`,
    );
    const decided = await adminCall<{ status: string }>(
      broker,
      'POST',
      `/admin/approvals/${encodeURIComponent(authReqId)}`,
      { decision: 'approve', note: 'one export for the monthly report' },
    );
    expect(decided.status === 200, `an approver approves it -> ${decided.status}`);
    const polled = await fetch(`${broker.url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${agentCreds.id}:${agentCreds.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'urn:openid:params:grant-type:ciba',
        auth_req_id: authReqId,
      }),
    });
    const tokens = (await polled.json()) as { access_token: string; token_type: string };
    exporter.saveTokens({ access_token: tokens.access_token, token_type: tokens.token_type });
    const grant = grantOf(exporter);
    expect(polled.status === 200, `the agent polls (CIBA) and gets grant ${grant}`);
    const task = await connectAgent(endpoint, exporter, seen);
    const exported = await task.callTool({ name: 'export_tickets', arguments: { format: 'csv' } });
    expect(
      seen.mcp?.status === 200 && textOf(exported).includes('T-1'),
      `export_tickets -> ${seen.mcp?.status}: ${String(JSON.parse(textOf(exported) || '""')).split('\n').length} tickets exported`,
    );

    const signal = await adminCall(broker, 'POST', '/v1/signals', {
      grant_id: grant,
      type: 'prompt_changed',
      context: { actions: ['delete_tickets'] },
    });
    const after = await adminCall<{ status: string }>(
      broker,
      'GET',
      `/admin/grants/${encodeURIComponent(grant)}`,
    );
    expect(
      signal.status === 202 && after.body.status === 'revoked',
      `mid-task the prompt turns to deleting tickets: prompt_changed -> ${signal.status}, grant ${after.body.status}`,
    );
    const next = await task
      .callTool({ name: 'search_tickets', arguments: { query: 'printer' } })
      .then(() => 'permitted', errorOf);
    const why = /error="([^"]+)"/.exec(seen.mcp?.challenge ?? '')?.[1] ?? '';
    expect(
      seen.mcp?.status === 401 && why === 'invalid_token',
      `the next tool call is refused: tools/call search_tickets -> ${seen.mcp?.status} ${why} (${next})`,
    );
    await task.close();

    const log = await adminCall<{
      decisions: { kind: string; outcome: string; reasons: string[]; inputs?: unknown }[];
    }>(broker, 'GET', `/admin/decisions?grant_id=${encodeURIComponent(grant)}&limit=20`);
    say(`decisions of grant ${grant} (GET /admin/decisions):`);
    for (const r of log.body.decisions ?? []) {
      const tool = /"(search_tickets|read_ticket|export_tickets)"/.exec(
        JSON.stringify(r.inputs),
      )?.[1];
      say(
        `  ${r.kind.padEnd(13)} ${r.outcome.padEnd(18)} ${(r.kind === 'evaluation' ? (tool ?? '') : '').padEnd(15)} ${r.reasons.join(', ') || '-'}`,
      );
    }
    expect(
      (log.body.decisions ?? []).some((r) => r.kind === 'reevaluation' && r.outcome === 'revoke'),
      'the decision log holds every tool call and the revocation',
    );
  } finally {
    guard.close();
    await server.close();
  }
  return ok;
}

const external = process.env.MANDATE_URL !== undefined && process.env.MANDATE_URL !== '';
let idp: UpstreamIdp | undefined;
const env: Record<string, string> = {};
const configPath = join(tmpdir(), `mandate-demo-mcp-${randomBytes(4).toString('hex')}.yaml`);
if (!external) {
  // The upstream IdP must know the broker's callback: the broker gets its port up front.
  const port = await freePort();
  idp = await startUpstreamIdp(`http://127.0.0.1:${port}/oauth/callback`);
  writeFileSync(configPath, idp.loginConfig);
  Object.assign(env, { MANDATE_PORT: String(port), MANDATE_CONFIG: configPath });
}
runDemo('Mandate MCP demo', tellStory, env, () => {
  void idp?.close();
  rmSync(configPath, { force: true });
});
