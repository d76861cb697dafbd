// Reading an MCP POST body as JSON-RPC: what it calls, whether its Mcp-Method/Mcp-Name headers agree, and error replies.

/** JSON-RPC 2.0 error codes the guard answers with. */
export const JSON_RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  invalidParams: -32602,
  /** Server-defined: the request was refused by authorization (the HTTP status says how). */
  unauthorized: -32001,
} as const;

export type JsonRpcId = string | number | null;

/** One message of the body, as far as the guard looks at it. */
export interface JsonRpcMessage {
  readonly id?: JsonRpcId;
  readonly method?: string;
  readonly params?: unknown;
}

/** A `tools/call` request of the body. */
export interface ToolCall {
  readonly id: JsonRpcId;
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

export type ReadBody =
  | { readonly ok: true; readonly messages: readonly JsonRpcMessage[]; readonly parsed: unknown }
  | { readonly ok: false; readonly code: number; readonly message: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the body: one JSON-RPC message or a batch of them; each needs `jsonrpc: "2.0"`. */
export function readJsonRpc(text: string): ReadBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, code: JSON_RPC.parseError, message: 'the body is not valid JSON' };
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0)
    return { ok: false, code: JSON_RPC.invalidRequest, message: 'the batch is empty' };
  for (const m of list) {
    if (!isObject(m) || m.jsonrpc !== '2.0')
      return { ok: false, code: JSON_RPC.invalidRequest, message: 'not a JSON-RPC 2.0 message' };
    if ('method' in m && typeof m.method !== 'string')
      return { ok: false, code: JSON_RPC.invalidRequest, message: 'method must be a string' };
    if ('id' in m && !['string', 'number'].includes(typeof m.id) && m.id !== null)
      return { ok: false, code: JSON_RPC.invalidRequest, message: 'id must be a string or number' };
  }
  return { ok: true, messages: list as JsonRpcMessage[], parsed };
}

/** The `tools/call` requests of the body; an error message when one has no string `name`. */
export function toolCallsOf(messages: readonly JsonRpcMessage[]): ToolCall[] | string {
  const calls: ToolCall[] = [];
  for (const m of messages) {
    if (m.method !== 'tools/call') continue;
    const params = isObject(m.params) ? m.params : undefined;
    if (typeof params?.name !== 'string' || params.name === '')
      return 'tools/call needs params.name';
    const args = params.arguments;
    if (args !== undefined && !isObject(args))
      return 'tools/call params.arguments must be an object';
    calls.push({ id: m.id ?? null, name: params.name, arguments: args ?? {} });
  }
  return calls;
}

/** Whether the body holds a request (a method with an id), not only notifications and responses. */
export function hasRequest(messages: readonly JsonRpcMessage[]): boolean {
  return messages.some((m) => typeof m.method === 'string' && m.id !== undefined);
}

/** Ids of the body's `tools/list` requests (their responses get filtered). */
export function toolListIdsOf(messages: readonly JsonRpcMessage[]): Set<JsonRpcId> {
  const ids = new Set<JsonRpcId>();
  for (const m of messages) if (m.method === 'tools/list' && m.id !== undefined) ids.add(m.id);
  return ids;
}

/** What `Mcp-Name` names for a method: the tool or prompt name, or the resource URI. */
function nameOf(m: JsonRpcMessage): string | undefined {
  const params = isObject(m.params) ? m.params : undefined;
  if (m.method === 'tools/call' || m.method === 'prompts/get')
    return typeof params?.name === 'string' ? params.name : undefined;
  if (m.method === 'resources/read')
    return typeof params?.uri === 'string' ? params.uri : undefined;
  return undefined;
}

/**
 * Where the `Mcp-Method` / `Mcp-Name` headers (when sent) disagree with the body, so a proxy
 * routing on them cannot be told one thing while the server does another. Undefined when they agree.
 */
export function headerMismatch(
  messages: readonly JsonRpcMessage[],
  mcpMethod: string | undefined,
  mcpName: string | undefined,
): string | undefined {
  if (mcpMethod === undefined && mcpName === undefined) return undefined;
  const [only, ...more] = messages;
  if (!only || more.length) return 'Mcp-Method and Mcp-Name headers need a single message';
  if (mcpMethod !== undefined && mcpMethod !== only.method)
    return 'the Mcp-Method header does not match the body';
  if (mcpName !== undefined && mcpName !== nameOf(only))
    return 'the Mcp-Name header does not match the body';
  return undefined;
}

/** A JSON-RPC error response (its `id` the request's, null when it could not be read). */
export function jsonRpcError(
  id: JsonRpcId,
  code: number,
  message: string,
  data?: Record<string, unknown>,
): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    error: { code, message, ...(data ? { data } : {}) },
  });
}
