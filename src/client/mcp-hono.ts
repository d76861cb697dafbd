// The MCP guard as Hono middleware: metadata, refusals as JSON-RPC errors, and narrowed tools/list answers.
import type { Context, MiddlewareHandler } from 'hono';
import type { McpAuthInfo, McpGateOutcome, McpHttpRequest } from './mcp-gate.ts';
import { narrowResponse } from './mcp-tool-filter.ts';

/**
 * Context variables the middleware sets on a forwarded request: `mcpAuth` (the SDK's `AuthInfo`
 * shape) and `mcpBody` (the parsed JSON-RPC body of a POST). Hand both to the transport:
 * `transport.handleRequest(c.req.raw, { authInfo: c.get('mcpAuth'), parsedBody: c.get('mcpBody') })`.
 */
export type McpVariables = { mcpAuth: McpAuthInfo; mcpBody: unknown };

export type McpHonoMiddleware = MiddlewareHandler<{ Variables: McpVariables }>;

type Gate = (req: McpHttpRequest) => Promise<McpGateOutcome>;

/** The socket address when served by `@hono/node-server` (its `env.incoming`), else undefined. */
function remoteAddressOf(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/** Reads at most `limit` bytes of a copy of the body, so the route can still read the request itself. */
async function readBodyWithin(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const body = request.clone().body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function honoAdapter(gate: Gate): McpHonoMiddleware {
  return async function mcpGuard(c, next) {
    const url = new URL(c.req.url);
    const outcome = await gate({
      method: c.req.method,
      path: url.pathname,
      url: c.req.url,
      header: (name) => c.req.header(name),
      readBody: (limit) => readBodyWithin(c.req.raw, limit),
      remoteAddress: remoteAddressOf(c),
    });
    if (outcome.kind === 'pass') return next();
    if (outcome.kind === 'reply')
      return new Response(c.req.method === 'HEAD' ? null : outcome.body, {
        status: outcome.status,
        headers: outcome.headers,
      });
    c.set('mcpAuth', outcome.auth);
    if (outcome.parsedBody !== undefined) c.set('mcpBody', outcome.parsedBody);
    await next();
    if (outcome.filter) {
      const narrowed = await narrowResponse(c.res, outcome.filter);
      // Unset first: Hono's setter would copy the old headers (a stale Content-Length) over.
      c.res = undefined;
      c.res = narrowed;
    }
  };
}
