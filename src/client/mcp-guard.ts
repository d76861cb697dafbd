// `createMcpGuard`: Mandate in front of an MCP server (Streamable HTTP), as Hono and Node middleware.
import { createMandateGuard, type MandateGuard } from './mandate-guard.ts';
import type { MandateGuardOptions } from './mandate-guard-options.ts';
import { createMcpGate, type McpAuthInfo } from './mcp-gate.ts';
import { honoAdapter, type McpHonoMiddleware } from './mcp-hono.ts';
import { type McpNodeMiddleware, nodeAdapter } from './mcp-node.ts';
import {
  canonicalResource,
  metadataPathOf,
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  toolScope,
} from './mcp-resource.ts';

export interface McpGuardOptions
  extends Omit<MandateGuardOptions, 'action' | 'resource' | 'cacheTtlMs'> {
  /**
   * The MCP server's URI (its endpoint, e.g. `https://mcp.example.com/mcp`): the audience tokens
   * must carry and the AuthZEN resource. It is made canonical (scheme and host lower-cased, no
   * trailing slash), as MCP clients send it as `resource`.
   */
  readonly resource: string;
  /** The server's tool names: advertised as `tools:<name>` in `scopes_supported`. */
  readonly tools?: readonly string[];
  /**
   * The tools a client without a token is told to ask for first (the 401's `scope`); others it
   * gets by stepping up when a call is refused. Default: none named (clients ask for `tools`).
   */
  readonly initialTools?: readonly string[];
  /**
   * Which of a call's arguments go into the AuthZEN context (as `tool.arguments`), e.g.
   * `(tool, args) => tool === 'refund' ? { amount: args.amount } : undefined`. Keep it small:
   * it is recorded with every decision. Default: none.
   */
  readonly context?: (
    tool: string,
    args: Record<string, unknown>,
  ) => Record<string, unknown> | undefined;
  /** Largest POST body read (default 1 MiB); a longer one is refused with 413. */
  readonly maxBodyBytes?: number;
  /**
   * How long a permit for the very same token, tool and context is reused (default 0: every
   * `tools/call` is decided by Mandate when it is made). At most 5000 ms.
   */
  readonly cacheTtlMs?: number;
}

export interface McpGuard {
  /** Hono middleware: mount with `app.use(guard.hono())` (it passes other paths through). */
  hono(): McpHonoMiddleware;
  /** Node middleware `(req, res, next)`: sets `req.auth` and `req.body`; pass `req.body` to the transport. */
  node(): McpNodeMiddleware;
  /** The RFC 9728 metadata it serves at `metadataUrl`. */
  readonly metadata: ProtectedResourceMetadata;
  readonly metadataUrl: string;
  /** The guard deciding the calls (mount `mandateEventReceiver(mcp.guard)` for CAEP pushes). */
  readonly guard: MandateGuard;
  close(): void;
}

export type { McpAuthInfo };

/** Creates the guard of one MCP server. Options are checked here, so a bad one fails at start-up. */
export function createMcpGuard(options: McpGuardOptions): McpGuard {
  const resource = canonicalResource(options.resource);
  const issuer = new URL(options.issuer).href.replace(/\/$/, '');
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  if (!(Number.isInteger(maxBodyBytes) && maxBodyBytes > 0))
    throw new RangeError('createMcpGuard: maxBodyBytes must be a positive integer');
  for (const name of [...(options.tools ?? []), ...(options.initialTools ?? [])])
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name))
      throw new TypeError(`createMcpGuard: ${JSON.stringify(name)} is not an MCP tool name`);
  const { tools, initialTools, context, maxBodyBytes: _max, ...rest } = options;
  const guard = createMandateGuard({ ...rest, resource, cacheTtlMs: options.cacheTtlMs ?? 0 });
  const metadata = protectedResourceMetadata(resource, issuer, tools);
  const metadataPath = metadataPathOf(resource);
  const metadataUrl = `${new URL(resource).origin}${metadataPath}`;
  const gate = createMcpGate({
    guard,
    resource,
    metadata,
    metadataPath,
    metadataUrl,
    endpointPath: new URL(resource).pathname || '/',
    maxBodyBytes,
    initialScope: initialTools?.length ? initialTools.map(toolScope).join(' ') : undefined,
    context,
  });
  return {
    hono: () => honoAdapter(gate),
    node: () => nodeAdapter(gate),
    metadata,
    metadataUrl,
    guard,
    close: () => guard.close(),
  };
}
