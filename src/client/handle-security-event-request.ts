// RFC 8935 push delivery for any Node server: authenticate, check type and size, hand the SET to the guard.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MandateGuard } from './mandate-guard.ts';
import {
  MAX_SET_BYTES,
  type SecurityEventResult,
  securityEventRefusal,
} from './verify-security-event.ts';

/** A push to an RFC 8935 endpoint, as any server framework sees it. */
export interface SecurityEventRequest {
  /** The request headers: a Fetch `Headers` or Node's `req.headers`. */
  readonly headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The raw body, read by the caller up to a little past {@link MAX_SET_BYTES}. */
  readonly body: string | Uint8Array;
}

export interface SecurityEventReceiverOptions {
  /**
   * The bearer token given as `authorization` at `POST /admin/receivers`: pushes without
   * `Authorization: Bearer <it>` are refused. Unset, only the SET signature authenticates them.
   */
  readonly authorization?: string;
}

/** What to answer the transmitter: 202 with no body, or 400 with RFC 8935 `{err, description}`. */
export interface SecurityEventResponse {
  readonly status: 202 | 400 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly result: SecurityEventResult;
}

/**
 * Handles one RFC 8935 push for a guard, for any Node server: checks the bearer token (when
 * configured), the `application/secevent+jwt` content type and the size, then hands the SET to
 * `guard.receiveSecurityEvent`. The permits are dropped before this resolves, so the 202 is sent
 * only once they are gone. A SET the keys could not be fetched for gets 503 so Mandate retries.
 */
export async function handleSecurityEventRequest(
  guard: MandateGuard,
  req: SecurityEventRequest,
  options: SecurityEventReceiverOptions = {},
): Promise<SecurityEventResponse> {
  if (
    options.authorization !== undefined &&
    !bearerMatches(headerOf(req.headers, 'authorization'), options.authorization)
  )
    return eventAnswer(securityEventRefusal('authentication_failed', 'the push is not authorized'));
  const mediaType = (headerOf(req.headers, 'content-type') ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (mediaType !== 'application/secevent+jwt')
    return eventAnswer(
      securityEventRefusal('invalid_request', 'the content type must be application/secevent+jwt'),
    );
  const size = typeof req.body === 'string' ? Buffer.byteLength(req.body) : req.body.byteLength;
  if (size > MAX_SET_BYTES)
    return eventAnswer(
      securityEventRefusal('invalid_request', `the SET is larger than ${MAX_SET_BYTES} bytes`),
    );
  const body = typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body);
  return eventAnswer(await guard.receiveSecurityEvent(body));
}

function eventAnswer(result: SecurityEventResult): SecurityEventResponse {
  if (result.ok) return { status: 202, headers: { 'cache-control': 'no-store' }, body: '', result };
  if (result.err === 'temporarily_unavailable')
    return {
      status: 503,
      headers: { 'cache-control': 'no-store', 'retry-after': '1' },
      body: '',
      result,
    };
  return {
    status: 400,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ err: result.err, description: result.description }),
    result,
  };
}

function headerOf(headers: SecurityEventRequest['headers'], name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return typeof value === 'string' ? value : value?.[0];
}

/** Compares digests so the time taken says nothing about the expected token. */
function bearerMatches(header: string | undefined, expected: string): boolean {
  const token = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  if (token === undefined) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(token), digest(expected));
}
