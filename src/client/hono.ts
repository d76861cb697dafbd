// Hono middleware for resource servers: lets a request through only when Mandate permits it.
import type { Context, MiddlewareHandler } from 'hono';
import {
  createMandateGuard,
  type MandateClaims,
  type MandateGuard,
  type MandateGuardOptions,
} from './mandate-guard.ts';

/** Context variables the middleware sets: `c.get('mandate')` holds the verified claims. */
export type MandateVariables = { mandate: MandateClaims };

export type RequireMandateOptions = (
  | Omit<MandateGuardOptions, 'action'>
  | { readonly guard: MandateGuard }
) & {
  /** The action of this route, or how to derive it from the request (e.g. from the method). */
  readonly action?: string | ((c: Context) => string);
  /** AuthZEN context of the request (e.g. `{ ip }`); keep it small, it is part of the cache key. */
  readonly context?: (c: Context) => Record<string, unknown> | undefined;
};

/**
 * Creates a middleware that checks the request's Bearer token with a Mandate guard. A refusal
 * answers 401/403 with the RFC 6750 `WWW-Authenticate` challenge, or 503 when Mandate cannot
 * be asked; a permit sets `c.var.mandate`.
 */
export function requireMandate(
  options: RequireMandateOptions,
): MiddlewareHandler<{ Variables: MandateVariables }> {
  const { action, context } = options;
  // A guard built here has no default action of its own, so the route must name one.
  if (!('guard' in options) && action === undefined)
    throw new TypeError('requireMandate: action is required');
  const guard =
    'guard' in options ? options.guard : createMandateGuard({ ...options, action: undefined });

  return async function mandate(c, next) {
    const name = typeof action === 'function' ? action(c) : action;
    const ctx = context?.(c);
    const result = await guard.check(c.req.header('authorization'), {
      ...(name !== undefined ? { action: name } : {}),
      ...(ctx ? { context: ctx } : {}),
    });
    if (!result.ok) {
      const headers: Record<string, string> = { 'cache-control': 'no-store' };
      if (result.status === 503) headers['retry-after'] = '1';
      else headers['www-authenticate'] = result.wwwAuthenticate;
      return c.json(
        { error: result.error, error_description: result.errorDescription },
        result.status,
        headers,
      );
    }
    c.set('mandate', result.claims);
    await next();
  };
}
