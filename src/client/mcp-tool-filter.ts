// Narrows `tools/list` results to the tools a token's grant allows, in JSON bodies and in SSE streams alike.
import type { JsonRpcId } from './mcp-json-rpc.ts';

/** Which responses to narrow (the ids of the `tools/list` requests) and to which tool names. */
export interface ToolListFilter {
  readonly listIds: ReadonlySet<JsonRpcId>;
  readonly allowed: ReadonlySet<string>;
}

/** The message with its `result.tools` narrowed when it answers one of the list requests; else itself. */
function narrowMessage(message: unknown, filter: ToolListFilter): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const m = message as { id?: JsonRpcId; result?: { tools?: unknown } };
  if (m.id === undefined || !filter.listIds.has(m.id) || !Array.isArray(m.result?.tools))
    return message;
  const tools = m.result.tools.filter(
    (t: unknown) =>
      typeof t === 'object' &&
      t !== null &&
      filter.allowed.has(String((t as { name?: unknown }).name)),
  );
  return { ...m, result: { ...m.result, tools } };
}

/** A JSON response body (one message or a batch) with its tool lists narrowed; unparseable text unchanged. */
export function narrowJsonBody(text: string, filter: ToolListFilter): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const narrowed = Array.isArray(parsed)
    ? parsed.map((m) => narrowMessage(m, filter))
    : narrowMessage(parsed, filter);
  return JSON.stringify(narrowed);
}

/** One SSE event (its lines without the blank separator) with a narrowed `data` when it carries a list. */
function narrowEvent(event: string, filter: ToolListFilter): string {
  const lines = event.split(/\r?\n/);
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
  if (data.length === 0) return event;
  const text = data.join('\n');
  const narrowed = narrowJsonBody(text, filter);
  if (narrowed === text) return event;
  const others = lines.filter((l) => !l.startsWith('data:'));
  return [...others, `data: ${narrowed}`].join('\n');
}

/** A streaming SSE transform: text in, text out, each complete event narrowed as it passes. */
export interface SseNarrower {
  push(chunk: string): string;
  /** What is left when the stream ends (an unterminated last event, passed as it came). */
  end(): string;
}

export function createSseNarrower(filter: ToolListFilter): SseNarrower {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      let out = '';
      for (;;) {
        const match = /\r?\n\r?\n/.exec(pending);
        if (!match) break;
        const end = match.index + match[0].length;
        out += narrowEvent(pending.slice(0, match.index), filter) + match[0];
        pending = pending.slice(end);
      }
      return out;
    },
    end() {
      const rest = pending;
      pending = '';
      return rest;
    },
  };
}

/** Whether a content type is SSE (else the body is taken as JSON). */
export function isEventStream(contentType: string | null | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'text/event-stream';
}

/** A Fetch response with its tool lists narrowed: JSON at once, SSE event by event as it streams. */
export async function narrowResponse(
  response: Response,
  filter: ToolListFilter,
): Promise<Response> {
  if (!response.body || response.status !== 200) return response;
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  if (!isEventStream(response.headers.get('content-type'))) {
    const body = narrowJsonBody(await response.text(), filter);
    return new Response(body, { status: response.status, headers });
  }
  const narrower = createSseNarrower(filter);
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const out = narrower.push(decoder.decode(chunk, { stream: true }));
        if (out) controller.enqueue(encoder.encode(out));
      },
      flush(controller) {
        const out = narrower.push(decoder.decode()) + narrower.end();
        if (out) controller.enqueue(encoder.encode(out));
      },
    }),
  );
  return new Response(body, { status: response.status, headers });
}
