// `createMcpGuard`: Mandate in front of an MCP server (Streamable HTTP), as Hono and Node middleware.
import { MAX_TOOL_ARGUMENT_NAME } from '../domain/tool-arguments.ts';
import { createMandateGuard, type MandateGuard } from './mandate-guard.ts';
import type { MandateGuardOptions } from './mandate-guard-options.ts';
import { createMcpGate, type McpAuthInfo, type ServedMetadata } from './mcp-gate.ts';
import { honoAdapter, type McpHonoMiddleware } from './mcp-hono.ts';
import { type McpNodeMiddleware, nodeAdapter } from './mcp-node.ts';
import {
  canonicalResource,
  metadataPathOf,
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  toolScope,
} from './mcp-resource.ts';
import { createRegistrationReader } from './own-registration.ts';
import { createResourceCredentials } from './resource-credentials.ts';

export interface McpGuardOptions
  extends Omit<MandateGuardOptions, 'action' | 'resource' | 'cacheTtlMs'> {
  /**
   * The MCP server's URI (its endpoint, e.g. `https://mcp.example.com/mcp`): the audience tokens
   * must carry and the AuthZEN resource. It is made canonical (scheme and host lower-cased, no
   * trailing slash), as MCP clients send it as `resource`.
   */
  readonly resource: string;
  /**
   * The server's tool names: advertised as `tools:<name>` in `scopes_supported`. Default: the
   * `actions` the resource client is registered with at Mandate, read from its own registration
   * (`GET /oauth/clients/{client_id}`) when the metadata is first asked for, and every 5 minutes.
   */
  readonly tools?: readonly string[];
  /**
   * The tools a client without a token is told to ask for first (the 401's `scope`); others it
   * gets by stepping up when a call is refused. Default: none named (clients ask for `tools`).
   */
  readonly initialTools?: readonly string[];
  /**
   * Which of a call's arguments policy sees (the AuthZEN context's `tool.arguments`, kept in the
   * decision record); the others never leave the server. Per tool, the argument names or a
   * function picking them: `{ refund: ['amount'], search: (args) => ({ query: args.query }) }`;
   * or one function for all tools, `(tool, args) => ...`. Each shown value must be a string of at
   * most 1024 characters, a boolean or a safe integer, at most 32 of them, else the call is
   * refused (400, JSON-RPC `-32602`) without asking Mandate. Default: none.
   */
  readonly context?: ToolContextSelector | Readonly<Record<string, ToolArgumentSelection>>;
  /** Largest POST body read (default 1 MiB); a longer one is refused with 413. */
  readonly maxBodyBytes?: number;
  /**
   * How long a permit for the very same token, tool and context is reused (default 0: every
   * `tools/call` is decided by Mandate when it is made). At most 5000 ms.
   */
  readonly cacheTtlMs?: number;
}

/** Which of one tool's arguments policy sees: their names, or a function returning them. */
export type ToolArgumentSelection =
  | readonly string[]
  | ((args: Record<string, unknown>) => Record<string, unknown> | undefined);

/** One function choosing, for any tool, the arguments policy sees (undefined: none). */
export type ToolContextSelector = (
  tool: string,
  args: Record<string, unknown>,
) => Record<string, unknown> | undefined;

export interface McpGuard {
  /** Hono middleware: mount with `app.use(guard.hono())` (it passes other paths through). */
  hono(): McpHonoMiddleware;
  /** Node middleware `(req, res, next)`: sets `req.auth` and `req.body`; pass `req.body` to the transport. */
  node(): McpNodeMiddleware;
  /** The RFC 9728 metadata it serves at `metadataUrl` (tool names as `tools` or the registration says). */
  metadata(): Promise<ProtectedResourceMetadata>;
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
  const metadata = servedMetadata(options, resource, issuer);
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
    context: toolContextSelector(context),
  });
  return {
    hono: () => honoAdapter(gate),
    node: () => nodeAdapter(gate),
    metadata: async () => (await metadata()).metadata,
    metadataUrl,
    guard,
    close: () => guard.close(),
  };
}

/**
 * The `context` option as one function. A per-tool map is checked here (a name list of argument
 * names, or a function) and read by own keys only, so a tool named `constructor` selects nothing.
 */
function toolContextSelector(option: McpGuardOptions['context']): ToolContextSelector | undefined {
  if (option === undefined || typeof option === 'function') return option;
  if (typeof option !== 'object' || option === null)
    throw new TypeError('createMcpGuard: context must be a function or a map of tool names');
  const perTool = new Map<string, ToolContextSelector>();
  for (const [tool, selection] of Object.entries(option)) {
    if (typeof selection === 'function') {
      perTool.set(tool, (_tool, args) => selection(args));
      continue;
    }
    if (
      !Array.isArray(selection) ||
      !selection.every(
        (n): n is string =>
          typeof n === 'string' && n.length > 0 && n.length <= MAX_TOOL_ARGUMENT_NAME,
      )
    )
      throw new TypeError(
        `createMcpGuard: context.${tool} must be a list of argument names or a function`,
      );
    const names: readonly string[] = [...selection];
    perTool.set(tool, (_tool, args) =>
      Object.fromEntries(names.filter((n) => Object.hasOwn(args, n)).map((n) => [n, args[n]])),
    );
  }
  return (tool, args) => perTool.get(tool)?.(tool, args);
}

/** How often the registered tool names are read again. */
const REGISTRATION_MAX_AGE_MS = 300_000;

/**
 * The metadata source: fixed when `tools` are given, else built from the registered actions. While
 * Mandate cannot be read (and nothing was read yet) it omits `scopes_supported` and is not cached.
 */
function servedMetadata(
  options: McpGuardOptions,
  resource: string,
  issuer: string,
): () => Promise<ServedMetadata> {
  const cached = 'public, max-age=300';
  if (options.tools) {
    const fixed = {
      metadata: protectedResourceMetadata(resource, issuer, options.tools),
      cacheControl: cached,
    };
    return async () => fixed;
  }
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 3000;
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const read = createRegistrationReader({
    issuer: new URL(options.issuer),
    clientId: options.clientId,
    credentials: createResourceCredentials(
      options.clientId,
      options.privateKey === undefined
        ? { clientSecret: options.clientSecret as string }
        : { privateKey: options.privateKey, keyId: options.keyId, algorithm: options.algorithm },
      { timeoutMs, now },
    ),
    fetch: fetchImpl,
    timeoutMs,
    maxAgeMs: REGISTRATION_MAX_AGE_MS,
    now,
  });
  return () =>
    read().then(
      (r) => ({
        metadata: protectedResourceMetadata(
          resource,
          issuer,
          r.actions.length ? r.actions : undefined,
        ),
        cacheControl: cached,
      }),
      () => ({
        metadata: protectedResourceMetadata(resource, issuer, undefined),
        cacheControl: 'no-store',
      }),
    );
}
