// The MCP guard's decision for one HTTP request, framework-free: serve metadata, refuse, or forward (with a tools/list filter).
import { decodeJwt } from 'jose';
import { toolArgumentsFault } from '../domain/tool-arguments.ts';
import { type GuardRefusal, presentedToken } from './bearer-challenge.ts';
import type { MandateClaims } from './mandate-claims.ts';
import type { MandateGuard } from './mandate-guard.ts';
import {
  hasRequest,
  headerMismatch,
  JSON_RPC,
  type JsonRpcId,
  jsonRpcError,
  readJsonRpc,
  toolCallsOf,
  toolListIdsOf,
} from './mcp-json-rpc.ts';
import { type ProtectedResourceMetadata, toolScope, withResourceMetadata } from './mcp-resource.ts';
import type { ToolListFilter } from './mcp-tool-filter.ts';

/** What the guard tells the MCP server about the caller (the official SDK's `AuthInfo` shape). */
export interface McpAuthInfo {
  token: string;
  clientId: string;
  /** `tools:<name>` for each tool the grant allows on this server. */
  scopes: string[];
  expiresAt?: number;
  resource?: URL;
  extra?: Record<string, unknown>;
}

/** One HTTP request as the gate needs it, whatever server framework carries it. */
export interface McpHttpRequest {
  readonly method: string;
  /** Path of the request URL (no query). */
  readonly path: string;
  /** The full URL the client called (for DPoP's `htu`). */
  readonly url: string;
  header(name: string): string | undefined;
  /** The body text, or undefined when it is longer than `limit` bytes. */
  readBody(limit: number): Promise<string | undefined>;
  /** The socket's peer address. */
  readonly remoteAddress: string | undefined;
}

/** What to do with the request. */
export type McpGateOutcome =
  | { readonly kind: 'pass' }
  | {
      readonly kind: 'reply';
      readonly status: number;
      readonly headers: Record<string, string>;
      readonly body: string;
    }
  | {
      readonly kind: 'forward';
      readonly auth: McpAuthInfo;
      /** The parsed JSON-RPC body of a POST (the stream is spent: hand this to the transport). */
      readonly parsedBody?: unknown;
      /** Set when the body lists tools: narrow the response with it. */
      readonly filter?: ToolListFilter;
    };

export interface McpGateSettings {
  readonly guard: MandateGuard;
  readonly resource: string;
  /** The RFC 9728 metadata to serve and how long it may be cached. */
  readonly metadata: () => Promise<ServedMetadata>;
  readonly metadataPath: string;
  readonly metadataUrl: string;
  readonly endpointPath: string;
  readonly maxBodyBytes: number;
  /** `scope` of the challenge to a request without a token (the tools asked for first). */
  readonly initialScope: string | undefined;
  readonly context:
    | ((tool: string, args: Record<string, unknown>) => Record<string, unknown> | undefined)
    | undefined;
}

/** The metadata as served: a degraded answer (tool names unknown for now) is not cached. */
export interface ServedMetadata {
  readonly metadata: ProtectedResourceMetadata;
  readonly cacheControl: string;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** The tool names the grant in `claims` allows on `resource`. */
export function grantedTools(claims: MandateClaims, resource: string): string[] {
  const names = new Set<string>();
  for (const entry of claims.authorization_details ?? [])
    if (entry.locations.includes(resource)) for (const a of entry.actions) names.add(a);
  return [...names];
}

/** The selected arguments without undefined entries (absent for policy); undefined when none are left. */
function shownArguments(
  selected: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (selected === undefined || selected === null) return undefined;
  // A server bug, not the caller's: fail (500) rather than decide without what policy may read.
  if (typeof selected !== 'object' || Array.isArray(selected))
    throw new TypeError('createMcpGuard: context must return an object of arguments');
  const entries = Object.entries(selected).filter(([, v]) => v !== undefined);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/** Drops an IPv4-mapped IPv6 prefix so policy sees `203.0.113.9`, not `::ffff:203.0.113.9`. */
function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Creates the gate of one MCP endpoint. */
export function createMcpGate(settings: McpGateSettings) {
  const { guard, resource, metadataUrl } = settings;

  const rpcError = (status: number, id: JsonRpcId, code: number, message: string) => ({
    kind: 'reply' as const,
    status,
    headers: JSON_HEADERS,
    body: jsonRpcError(id, code, message),
  });

  const refusal = (r: GuardRefusal, id: JsonRpcId, scope?: string): McpGateOutcome => {
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (r.status === 503) headers['retry-after'] = '1';
    else headers['www-authenticate'] = withResourceMetadata(r, metadataUrl, scope);
    return {
      kind: 'reply',
      status: r.status,
      headers,
      body: jsonRpcError(id, JSON_RPC.unauthorized, r.errorDescription, { error: r.error }),
    };
  };

  const authInfo = (token: string, claims: MandateClaims): McpAuthInfo => ({
    token,
    clientId: claims.client_id ?? claims.sub ?? '',
    scopes: grantedTools(claims, resource).map(toolScope),
    ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp } : {}),
    resource: new URL(resource),
    extra: { grant_id: claims.grant_id, sub: claims.sub },
  });

  /** The scope to step up to: what the token holds here plus the refused tool (the SDK swaps tokens). */
  const stepUpScope = (token: string, tool: string): string => {
    let held: string[] = [];
    try {
      held = grantedTools(decodeJwt(token) as MandateClaims, resource);
    } catch {}
    return [...new Set([...held, tool])].map(toolScope).join(' ');
  };

  return async function gate(req: McpHttpRequest): Promise<McpGateOutcome> {
    if (req.path === settings.metadataPath) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return { kind: 'pass' };
      const served = await settings.metadata();
      return {
        kind: 'reply',
        status: 200,
        headers: { 'content-type': 'application/json', 'cache-control': served.cacheControl },
        body: JSON.stringify(served.metadata),
      };
    }
    // A CORS preflight never carries credentials (Fetch spec): the server's own CORS answers it.
    if (req.path !== settings.endpointPath || req.method === 'OPTIONS') return { kind: 'pass' };
    const authorization = req.header('authorization');
    const dpop = { method: req.method, url: req.url, dpop: req.header('dpop') };
    if (!authorization) {
      const refused = await guard.verify(authorization, dpop);
      return refused.ok ? { kind: 'pass' } : refusal(refused, null, settings.initialScope);
    }
    if (req.method !== 'POST') {
      // A GET opens a stream the server may send data on: the grant must be live now.
      const verified = await guard.confirm(authorization, dpop);
      if (!verified.ok) return refusal(verified, null);
      return { kind: 'forward', auth: authInfo(verified.token, verified.claims) };
    }

    const text = await req.readBody(settings.maxBodyBytes);
    if (text === undefined)
      return rpcError(413, null, JSON_RPC.invalidRequest, 'the body is too large');
    const body = readJsonRpc(text);
    if (!body.ok) return rpcError(400, null, body.code, body.message);
    const firstId = body.messages[0]?.id ?? null;
    const mismatch = headerMismatch(
      body.messages,
      req.header('mcp-method'),
      req.header('mcp-name'),
    );
    if (mismatch) return rpcError(400, firstId, JSON_RPC.invalidRequest, mismatch);
    const calls = toolCallsOf(body.messages);
    if (typeof calls === 'string') return rpcError(400, firstId, JSON_RPC.invalidRequest, calls);
    if (calls.length > 1)
      return rpcError(400, firstId, JSON_RPC.invalidRequest, 'one tools/call per request');

    let token: string;
    let claims: MandateClaims;
    const [call] = calls;
    if (call) {
      // Only what the server selects leaves it, and only within the broker's bounds.
      let exposed: Record<string, unknown> | undefined;
      try {
        exposed = shownArguments(settings.context?.(call.name, call.arguments));
      } catch (err) {
        // A selector that throws on these arguments is the server's fault (500), but only a
        // caller with a valid token may learn that: anyone else gets the token's refusal.
        const verified = await guard.verify(authorization, dpop);
        if (!verified.ok) return refusal(verified, call.id);
        throw err;
      }
      const fault = exposed && toolArgumentsFault(exposed);
      if (fault) {
        // The caller's token first: who may not call at all learns nothing about the arguments.
        const verified = await guard.verify(authorization, dpop);
        if (!verified.ok) return refusal(verified, call.id);
        return rpcError(400, call.id, JSON_RPC.invalidParams, `tools/call: ${fault}`);
      }
      // Decided now, with Mandate: the tool is the action, this server the resource.
      const ip = plainAddress(req.remoteAddress);
      const decided = await guard.check(authorization, {
        action: call.name,
        context: { ...(ip ? { ip } : {}), ...(exposed ? { tool: { arguments: exposed } } : {}) },
        request: dpop,
      });
      token = presentedToken(authorization)?.token ?? '';
      if (!decided.ok) {
        const scope = decided.status === 403 ? stepUpScope(token, call.name) : undefined;
        return refusal(decided, call.id, scope);
      }
      claims = decided.claims;
    } else {
      // Any other request answers with data (resources, prompts, lists): Mandate confirms the
      // token live first. Only notifications and responses (answered 202, no data) skip it.
      const verified = hasRequest(body.messages)
        ? await guard.confirm(authorization, dpop)
        : await guard.verify(authorization, dpop);
      if (!verified.ok) return refusal(verified, firstId);
      claims = verified.claims;
      token = verified.token;
    }
    const listIds = toolListIdsOf(body.messages);
    return {
      kind: 'forward',
      auth: authInfo(token, claims),
      parsedBody: body.parsed,
      ...(listIds.size
        ? { filter: { listIds, allowed: new Set(grantedTools(claims, resource)) } }
        : {}),
    };
  };
}
