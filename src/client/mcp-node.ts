// The MCP guard as Node middleware `(req, res, next)`, for the SDK's StreamableHTTPServerTransport on node:http or Express.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { McpAuthInfo, McpGateOutcome, McpHttpRequest } from './mcp-gate.ts';
import {
  createSseNarrower,
  isEventStream,
  narrowJsonBody,
  type ToolListFilter,
} from './mcp-tool-filter.ts';

/** The request after the middleware: `auth` for the transport's `AuthInfo`, `body` the parsed JSON-RPC body. */
export type McpNodeRequest = IncomingMessage & { auth?: McpAuthInfo; body?: unknown };

export type McpNodeMiddleware = (
  req: McpNodeRequest,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

type Gate = (req: McpHttpRequest) => Promise<McpGateOutcome>;

/** At most `limit` bytes of the body (undefined past it); a body an earlier parser read is reused. */
async function readBodyWithin(req: McpNodeRequest, limit: number): Promise<string | undefined> {
  if (req.body !== undefined) {
    const text =
      typeof req.body === 'string' || Buffer.isBuffer(req.body)
        ? req.body.toString()
        : JSON.stringify(req.body);
    return Buffer.byteLength(text) > limit ? undefined : text;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Applies `writeHead`'s header argument (object or raw list) to the response, so it can be changed before sending. */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    const flat = Array.isArray(headers[0]) ? (headers as string[][]).flat() : (headers as string[]);
    for (let i = 0; i + 1 < flat.length; i += 2)
      res.setHeader(String(flat[i]), String(flat[i + 1]));
  } else if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders))
      if (v !== undefined) res.setHeader(k, v);
  }
}

/**
 * Narrows the tools/list answer written to `res`: a JSON body is held until `end` and sent with
 * its new length; an SSE stream is rewritten event by event. Other statuses pass untouched.
 */
function narrowNodeResponse(res: ServerResponse, filter: ToolListFilter): void {
  const writeHead = res.writeHead.bind(res) as (status: number) => ServerResponse;
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const end = res.end.bind(res) as (chunk?: unknown, ...rest: unknown[]) => ServerResponse;
  const flushHeaders = res.flushHeaders.bind(res);
  let mode: 'pass' | 'json' | 'sse' | undefined;
  const held: Buffer[] = [];
  const sse = createSseNarrower(filter);
  const decoder = new TextDecoder();
  const text = (chunk: unknown, encoding?: unknown) =>
    typeof chunk === 'string'
      ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
      : Buffer.from(chunk as Uint8Array);
  const start = () => {
    if (mode) return;
    mode =
      res.statusCode !== 200
        ? 'pass'
        : isEventStream(String(res.getHeader('content-type') ?? ''))
          ? 'sse'
          : 'json';
    if (mode === 'json') return;
    if (mode === 'sse') res.removeHeader('content-length');
    writeHead(res.statusCode);
  };
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    res.statusCode = status;
    applyHeaders(res, rest[rest.length - 1]);
    start();
    return res;
  }) as typeof res.writeHead;
  res.flushHeaders = () => {
    start();
    if (mode !== 'json') flushHeaders();
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    start();
    if (mode === 'pass') return write(chunk, ...rest);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (mode === 'json') {
      held.push(text(chunk, rest[0]));
      callback?.();
      return true;
    }
    const out = sse.push(decoder.decode(text(chunk, rest[0]), { stream: true }));
    if (!out) {
      callback?.();
      return true;
    }
    return callback ? write(out, callback) : write(out);
  }) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    start();
    const callback = [chunk, ...rest].find((r) => typeof r === 'function') as
      | (() => void)
      | undefined;
    const last = chunk === undefined || typeof chunk === 'function' ? undefined : chunk;
    if (mode === 'pass') return last === undefined ? end(callback) : end(last, ...rest);
    if (last !== undefined) held.push(text(last, rest[0]));
    if (mode === 'sse') {
      const out =
        sse.push(decoder.decode(Buffer.concat(held))) + sse.push(decoder.decode()) + sse.end();
      return end(out, callback);
    }
    const body = narrowJsonBody(Buffer.concat(held).toString('utf8'), filter);
    res.setHeader('content-length', Buffer.byteLength(body));
    writeHead(res.statusCode);
    return end(body, callback);
  }) as typeof res.end;
}

export function nodeAdapter(gate: Gate): McpNodeMiddleware {
  return function mcpGuard(req, res, next) {
    const host = firstHeader(req.headers.host) ?? 'localhost';
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    const url = `${secure ? 'https' : 'http'}://${host}${req.url ?? '/'}`;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    gate({
      method: req.method ?? 'GET',
      path,
      url,
      header: (name) => firstHeader(req.headers[name.toLowerCase()]),
      readBody: (limit) => readBodyWithin(req, limit),
      remoteAddress: req.socket.remoteAddress,
    }).then(
      (outcome) => {
        if (outcome.kind === 'pass') return next();
        if (outcome.kind === 'reply') {
          res.writeHead(outcome.status, outcome.headers);
          res.end(req.method === 'HEAD' ? undefined : outcome.body);
          return;
        }
        req.auth = outcome.auth;
        if (outcome.parsedBody !== undefined) req.body = outcome.parsedBody;
        if (outcome.filter) narrowNodeResponse(res, outcome.filter);
        next();
      },
      (err: unknown) => next(err),
    );
  };
}
