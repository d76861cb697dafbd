// AuthZEN's error shape: every refusal is a decision (`decision: false`) with a reason code.
import type { Context } from 'hono';
import type { AppLogger } from '../../observability/logger.ts';

/** A refusal of an evaluation request, thrown by a route and rendered by the AuthZEN sub-app. */
export class AuthZenRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AuthZenRefusal';
  }
}

/** The store cannot be reached: fail closed, and say to retry. */
export const unavailable = () =>
  new AuthZenRefusal(503, 'unavailable', 'Mandate cannot check this now', { 'Retry-After': '1' });

/** Errors keep AuthZEN's answer shape and always say `decision: false`. */
export function refusal(
  status: number,
  code: string,
  en: string,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(
    JSON.stringify({ decision: false, context: { reason_admin: { en, code } } }),
    {
      status,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    },
  );
}

/** The AuthZEN sub-app's error renderer: a refusal as thrown, anything else a logged 500. */
export function renderAuthZenError(err: unknown, log: AppLogger): Response {
  if (err instanceof AuthZenRefusal) return refusal(err.status, err.code, err.message, err.headers);
  log.error({ err }, 'evaluation failed');
  return refusal(500, 'error', 'internal error');
}

/** 413 in AuthZEN's shape. */
export function authzenTooLarge(c: Context): Response {
  return c.json(
    {
      decision: false,
      context: { reason_admin: { en: 'request body too large', code: 'invalid_request' } },
    },
    413,
  );
}

/** 429 in AuthZEN's shape. */
export function authzenTooMany(why: string, retryAfterSec: number): Response {
  return new Response(
    JSON.stringify({
      decision: false,
      context: { reason_admin: { en: why, code: 'rate_limited' } },
    }),
    {
      status: 429,
      headers: {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
        'Retry-After': String(retryAfterSec),
      },
    },
  );
}
