// RFC 9457 problem+json for the admin API.
import type { Context } from 'hono';
import { ProblemError, StoreUnavailable, WriteNotConfirmed } from '../domain/errors.ts';
import type { AppLogger } from '../observability/logger.ts';

export function problem(
  status: number,
  title: string,
  detail?: string,
  extra: Record<string, unknown> = {},
): Response {
  return new Response(
    JSON.stringify({ type: 'about:blank', title, status, ...(detail ? { detail } : {}), ...extra }),
    {
      status,
      headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' },
    },
  );
}

export function renderProblem(c: Context, err: unknown, log: AppLogger): Response {
  if (err instanceof ProblemError)
    return problem(err.status, err.title, err.message, err.errors ? { errors: err.errors } : {});
  if (err instanceof WriteNotConfirmed)
    return problem(
      503,
      'Service unavailable',
      'not confirmed durable: the change may have been applied on the Redis primary but its replicas did not acknowledge it in time; send it again',
    );
  if (err instanceof StoreUnavailable)
    return problem(503, 'Service unavailable', 'the store cannot be reached; nothing was changed');
  log.error({ err, path: c.req.path }, 'unexpected error on the admin API');
  return problem(500, 'Internal error');
}

/** 413 problem+json naming the limit. */
export function problemTooLarge(maxBytes: number): Response {
  return problem(413, 'Payload too large', `the body must be at most ${maxBytes} bytes`);
}

/** 429 problem+json with Retry-After. */
export function problemTooMany(why: string, retryAfterSec: number): Response {
  const res = problem(429, 'Too many requests', why);
  res.headers.set('Retry-After', String(retryAfterSec));
  return res;
}

/** 404 problem+json for a path no route serves. */
export function problemNotFound(c: Context): Response {
  return problem(404, 'Not found', `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`);
}
