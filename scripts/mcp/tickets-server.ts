// The ticket MCP server of the demo, benchmark and tests: the official SDK's McpServer with four tools, a resource and a prompt, over Streamable HTTP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { McpNodeMiddleware, McpNodeRequest, McpVariables } from '../../src/client/mcp.ts';

const TICKETS = [
  { id: 'T-1', title: 'Printer on fire', customer: 'Ada' },
  { id: 'T-2', title: 'Password reset loop', customer: 'Grace' },
  { id: 'T-3', title: 'Invoice shows 0 EUR', customer: 'Linus' },
];

const text = (value: unknown) => ({
  content: [{ type: 'text' as const, text: JSON.stringify(value) }],
});

/** The URI of the ticket server's one resource (the ticket list). */
export const TICKETS_RESOURCE = 'tickets://all';

/** A fresh McpServer with the ticket tools, the ticket list resource and a triage prompt (stateless: one per request). */
export function ticketServer(): McpServer {
  const server = new McpServer({ name: 'tickets', version: '1.0.0' });
  server.registerTool(
    'search_tickets',
    { description: 'Search tickets by title', inputSchema: { query: z.string() } },
    async ({ query }) =>
      text(TICKETS.filter((t) => t.title.toLowerCase().includes(query.toLowerCase()))),
  );
  server.registerTool(
    'read_ticket',
    { description: 'Read one ticket', inputSchema: { id: z.string() } },
    async ({ id }) => text(TICKETS.find((t) => t.id === id) ?? null),
  );
  server.registerTool(
    'export_tickets',
    { description: 'Export every ticket as CSV', inputSchema: { format: z.literal('csv') } },
    async () => text(TICKETS.map((t) => `${t.id},${t.title},${t.customer}`).join('\n')),
  );
  server.registerTool(
    'refund_ticket',
    {
      description: 'Refund the customer of a ticket',
      inputSchema: { id: z.string(), amount: z.number().int(), note: z.string().optional() },
    },
    async ({ id, amount }) => text({ refunded: id, amount }),
  );
  server.registerResource(
    'tickets',
    TICKETS_RESOURCE,
    { description: 'Every ticket', mimeType: 'application/json' },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(TICKETS) }],
    }),
  );
  server.registerPrompt(
    'triage',
    { description: 'Triage one ticket', argsSchema: { id: z.string() } },
    ({ id }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: `Triage ${JSON.stringify(TICKETS.find((t) => t.id === id))}`,
          },
        },
      ],
    }),
  );
  return server;
}

export interface RunningServer {
  readonly server: Server;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        server,
        close: () =>
          new Promise<void>((ok) => {
            server.closeAllConnections();
            server.close(() => ok());
          }),
      }),
    );
  });
}

/**
 * Serves the ticket tools at `/mcp` on a Hono app behind `guard` (none: unprotected), through
 * the SDK's web-standard transport; `json` picks JSON responses over SSE.
 */
export function serveHono(
  port: number,
  json: boolean,
  guard?: MiddlewareHandler<{ Variables: McpVariables }>,
): Promise<RunningServer> {
  const app = new Hono<{ Variables: McpVariables }>();
  if (guard) app.use(guard);
  app.all('/mcp', async (c) => {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: json,
    });
    await ticketServer().connect(transport);
    return transport.handleRequest(c.req.raw, {
      authInfo: c.get('mcpAuth'),
      parsedBody: c.get('mcpBody'),
    });
  });
  return listen(createServer(getRequestListener(app.fetch)), port);
}

/** The same on plain node:http with the SDK's Node transport behind a Node middleware. */
export function serveNode(
  port: number,
  json: boolean,
  guard?: McpNodeMiddleware,
): Promise<RunningServer> {
  const handle = async (req: McpNodeRequest, res: ServerResponse) => {
    if ((req.url ?? '').split('?')[0] !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: json,
    });
    await ticketServer().connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const fail = (err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    };
    if (!guard) return void handle(req, res).catch(fail);
    guard(req, res, (err) => (err ? fail(err) : void handle(req, res).catch(fail)));
  };
  return listen(createServer(listener), port);
}
