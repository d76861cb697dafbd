// RFC 6749 JSON for OAuth endpoints: successes and errors, never cached, only RFC fields exposed.
import type { Context, TypedResponse } from 'hono';
import type { JSONParsed } from 'hono/utils/types';
import { OAuthError, StoreUnavailable, WriteNotConfirmed } from '../domain/errors.ts';
import type { AppLogger } from '../observability/logger.ts';

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** A successful OAuth answer: 200 JSON, never cached. */
export function oauthJson<T extends object>(
  c: Context,
  body: T,
): Response & TypedResponse<JSONParsed<T>, 200, 'json'> {
  return c.json(body, 200, NO_STORE);
}

/**
 * Renders any error as RFC 6749 5.2 JSON. An OAuthError shows its code and description; a
 * store outage is 503 temporarily_unavailable; anything else is a bare 500 server_error.
 */
export function renderOAuthError(c: Context, err: unknown, log: AppLogger): Response {
  let e: OAuthError;
  if (err instanceof OAuthError) e = err;
  else if (err instanceof WriteNotConfirmed)
    e = new OAuthError(
      'temporarily_unavailable',
      'not confirmed durable (replicas did not acknowledge in time); try again',
    );
  else if (err instanceof StoreUnavailable)
    e = new OAuthError('temporarily_unavailable', 'try again shortly');
  else {
    log.error({ err, path: c.req.path }, 'unexpected error on an OAuth endpoint');
    e = new OAuthError('server_error', 'internal error');
  }
  const headers: Record<string, string> = { ...e.headers, ...NO_STORE };
  if (e.status === 401) headers['WWW-Authenticate'] = 'Basic realm="mandate", charset="UTF-8"';
  if (e.status === 503) headers['Retry-After'] = '1';
  return new Response(JSON.stringify({ error: e.code, error_description: e.message, ...e.extra }), {
    status: e.status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** 413 on an OAuth endpoint: invalid_request, as RFC 6749 has no other code for it. */
export function oauthTooLarge(c: Context, log: AppLogger): Response {
  return renderOAuthError(c, new OAuthError('invalid_request', 'request body too large'), log);
}

/** 429 on an OAuth endpoint: temporarily_unavailable with Retry-After. */
export function oauthTooMany(why: string, retryAfterSec: number): Response {
  return new Response(
    JSON.stringify({ error: 'temporarily_unavailable', error_description: why }),
    {
      status: 429,
      headers: {
        'Content-Type': 'application/json',
        ...NO_STORE,
        'Retry-After': String(retryAfterSec),
      },
    },
  );
}
