// HTTP calls from the CLI to the broker, with its refusals turned into readable CLI errors.
import { CliError } from './cli-error.ts';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface BrokerRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path under the broker's URL, query included. */
  readonly path: string;
  /** The Authorization header; none for a form that carries its own client assertion. */
  readonly authorization?: string | undefined;
  /** A JSON body, or a form (URLSearchParams) for the OAuth endpoints. */
  readonly body?: unknown;
}

/**
 * Sends one request to the broker at `baseUrl` and returns its parsed body (null when empty).
 * Any 4xx/5xx becomes a `CliError` (exit 1) naming the problem+json `title`/`detail` or the
 * OAuth `error`/`error_description`; an unreachable broker is exit 1 too.
 */
export async function requestBroker(
  fetchImpl: FetchLike,
  baseUrl: URL,
  req: BrokerRequest,
): Promise<unknown> {
  const url = new URL(
    req.path.replace(/^\//, ''),
    baseUrl.href.endsWith('/') ? baseUrl : `${baseUrl.href}/`,
  );
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.authorization !== undefined) headers.authorization = req.authorization;
  let body: string | undefined;
  if (req.body instanceof URLSearchParams) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = req.body.toString();
  } else if (req.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.body);
  }
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: req.method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
  } catch (err) {
    const reason =
      err instanceof Error
        ? ((err.cause as Error | undefined)?.message ?? err.message)
        : String(err);
    throw new CliError(1, `cannot reach Mandate at ${baseUrl.origin}: ${reason}`, { cause: err });
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok)
    throw new CliError(1, describeRefusal(response.status, parsed), { cause: parsed });
  return parsed;
}

/** The broker's reason in one or a few lines: problem+json, OAuth error, or the bare status. */
export function describeRefusal(status: number, body: unknown): string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const lines: string[] = [];
  if (typeof b.title === 'string') {
    lines.push(
      typeof b.detail === 'string' && b.detail !== b.title ? `${b.title}: ${b.detail}` : b.title,
    );
    if (Array.isArray(b.errors)) {
      for (const e of b.errors as Array<Record<string, unknown>>) {
        const where =
          typeof e.path === 'string' && e.path !== ''
            ? e.path
            : e.line !== undefined
              ? `line ${String(e.line)}, column ${String(e.column ?? '?')}`
              : '';
        const item = `${where ? `${where}: ` : ''}${String(e.message ?? JSON.stringify(e))}`;
        // The detail often already names the first problem; print each one once.
        if (!lines[0]?.includes(item)) lines.push(`  - ${item}`);
      }
    }
  } else if (typeof b.error === 'string') {
    lines.push(
      typeof b.error_description === 'string' ? `${b.error}: ${b.error_description}` : b.error,
    );
    if (typeof b.auth_req_id === 'string')
      lines.push(`  auth_req_id: ${b.auth_req_id} (an approver must decide)`);
  } else {
    lines.push(
      typeof body === 'string' && body.length > 0 && body.length < 200 ? body : 'no reason given',
    );
  }
  return `refused (HTTP ${status}): ${lines.join('\n')}`;
}
