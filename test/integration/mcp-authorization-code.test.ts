// A person signs in for an MCP client: the official SDK's OAuthClientProvider (unchanged) against a server behind mandate/mcp, the browser step driven over HTTP (upstream oidc-provider, Mandate's consent form, a loopback listener); pre-registered and Client ID Metadata Document clients.
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrowserDrivenProvider,
  consentText,
  signInAndConnect,
  startRedirectListener,
} from '../../scripts/mcp/person-client.ts';
import { addTicketPolicies, TICKET_TOOLS } from '../../scripts/mcp/tickets-policy.ts';
import { type RunningServer, serveHono } from '../../scripts/mcp/tickets-server.ts';
import { createMcpGuard, type McpGuard } from '../../src/client/mcp.ts';
import { ADMIN_TOKEN, admin } from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';
import {
  makeTestCertificates,
  startTlsTestServer,
  type TlsTestServer,
} from '../support/tls-test-server.ts';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.ts';

const PUBLIC_CLIENT = 'ticket-desk';

let idp: UpstreamIdp;
let broker: TestBroker;
let guard: McpGuard;
let mcp: RunningServer;
let endpoint: string;
let documents: TlsTestServer;
const defaultCas = getCACertificates('default');

interface DecisionRecord {
  kind: string;
  outcome: string;
  reasons: string[];
  inputs: Record<string, unknown>;
}

async function toolDecisions(grantId: string): Promise<string[]> {
  const res = await admin<{ decisions: DecisionRecord[] }>(
    broker.url,
    'GET',
    `/admin/decisions?grant_id=${encodeURIComponent(grantId)}&limit=50`,
  );
  expect(res.status).toBe(200);
  return res.body.decisions
    .filter((r) => r.kind === 'evaluation')
    .map((r) => `${JSON.stringify(r.inputs).match(/"(\w+_tickets?)"/)?.[1]}:${r.outcome}`);
}

beforeAll(async () => {
  const certs = makeTestCertificates(['cimd.test']);
  // The self-signed CA, passed to Node: Mandate's fetch of the client's document trusts it.
  setDefaultCACertificates([...defaultCas, certs.ca]);
  documents = await startTlsTestServer(certs, (req, res) => {
    const self = `https://127.0.0.1:${documents.port}${req.url}`;
    if (req.url !== '/ticket-desk.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(
      JSON.stringify({
        client_id: self,
        client_name: 'Ticket desk (CIMD)',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    );
  });
  const port = await freePort();
  idp = await startUpstreamIdp(`http://127.0.0.1:${port}/oauth/callback`);
  broker = await startTestBroker({
    name: 'mcp-code',
    config: `${idp.loginConfig}mcp:\n  cimd_allow_private: true\n`,
    env: { MANDATE_PORT: String(port) },
  });
  const mcpPort = await freePort();
  endpoint = `http://127.0.0.1:${mcpPort}/mcp`;
  const resource = await broker.client({
    name: 'tickets MCP',
    kind: 'resource',
    resources: [endpoint],
    actions: [...TICKET_TOOLS],
  });
  await addTicketPolicies(broker.url, ADMIN_TOKEN);
  const registered = await admin(broker.url, 'POST', '/admin/clients', {
    client_id: PUBLIC_CLIENT,
    name: 'Ticket desk',
    kind: 'agent',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
  });
  expect(registered.status, registered.text).toBe(201);
  guard = createMcpGuard({
    issuer: broker.issuer,
    clientId: resource.client_id,
    clientSecret: resource.client_secret,
    resource: endpoint,
  });
  mcp = await serveHono(mcpPort, false, guard.hono());
}, 60_000);

afterAll(async () => {
  await mcp?.close();
  guard?.close();
  await broker?.close();
  await idp?.close();
  await documents?.close();
  setDefaultCACertificates(defaultCas);
});

describe.each([
  ['a pre-registered public client', 'pre'],
  ['a Client ID Metadata Document client', 'cimd'],
] as const)('a person signs in for %s through the official MCP SDK', (_name, kind) => {
  it('consents, then lists the granted tools and calls one, each call a decision in the log', async () => {
    const listener = await startRedirectListener();
    try {
      const cimdUrl = `https://127.0.0.1:${documents.port}/ticket-desk.json`;
      const provider = new BrowserDrivenProvider(
        listener,
        'alice',
        kind === 'cimd' ? cimdUrl : undefined,
        kind === 'pre' ? PUBLIC_CLIENT : undefined,
      );
      const { client, iss } = await signInAndConnect(endpoint, provider);
      expect(iss).toBe(broker.issuer);
      try {
        // The consent page named the client and what policy refused (export needs exporters).
        const consent = consentText(provider.consentHtml);
        expect(consent).toContain(kind === 'cimd' ? 'Ticket desk (CIMD)' : 'Ticket desk');
        expect(consent).toMatch(/allowed to search_tickets on \S+ read_ticket on \S+ Refused/);
        expect(consent).toMatch(/Refused by policy export_tickets/);
        expect(provider.info?.client_id).toBe(kind === 'cimd' ? cimdUrl : PUBLIC_CLIENT);
        const token = decodeJwt(provider.saved?.access_token ?? '');
        expect(token.aud).toBe(endpoint);
        expect(String(token.sub)).toBe(`${idp.issuer}|alice`);
        const grant = String(token.grant_id);

        const listed = await client.listTools();
        expect(listed.tools.map((t) => t.name).sort()).toEqual(['read_ticket', 'search_tickets']);
        const found = await client.callTool({
          name: 'search_tickets',
          arguments: { query: 'printer' },
        });
        expect(JSON.stringify(found)).toContain('T-1');
        await expect(
          client.callTool({ name: 'export_tickets', arguments: { format: 'csv' } }),
        ).rejects.toThrow();
        expect(await toolDecisions(grant)).toEqual(
          expect.arrayContaining(['search_tickets:permit', 'export_tickets:deny']),
        );
      } finally {
        await client.close();
      }
    } finally {
      listener.close();
    }
  }, 60_000);
});
