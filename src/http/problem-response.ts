// RFC 9457 problem+json for the admin API.
import type { Context } from 'hono';
import { ProblemError, StoreUnavailable } from '../domain/errors.ts';
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
  if (err instanceof StoreUnavailable)
    return problem(503, 'Service unavailable', 'the store cannot be reached; nothing was changed');
  log.error({ err, path: c.req.path }, 'unexpected error on the admin API');
  return problem(500, 'Internal error');
}
