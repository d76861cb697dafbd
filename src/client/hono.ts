// Hono middleware for resource servers: lets a request through only when Mandate permits it.
import type { Context, Handler, MiddlewareHandler } from 'hono';
import {
  handleSecurityEventRequest,
  type SecurityEventReceiverOptions,
} from './handle-security-event-request.ts';
import type { MandateClaims } from './mandate-claims.ts';
import {
  createMandateGuard,
  type MandateGuard,
  type MandateGuardOptions,
} from './mandate-guard.ts';
import { MAX_SET_BYTES } from './verify-security-event.ts';

/** Context variables the middleware sets: `c.get('mandate')` holds the verified claims. */
export type MandateVariables = { mandate: MandateClaims };

export type RequireMandateOptions = (
  | Omit<MandateGuardOptions, 'action'>
  | { readonly guard: MandateGuard }
) & {
  /** The action of this route, or how to derive it from the request (e.g. from the method). */
  readonly action?: string | ((c: Context) => string);
  /**
   * AuthZEN context of the request (e.g. `{ ip }`); keep it small, it is part of the cache key.
   * Take `ip` from the socket (`getConnInfo(c).remote.address` from `@hono/node-server/conninfo`)
   * or from your own trusted-proxy logic, never from a header the caller writes (`x-real-ip`, or
   * the leftmost `x-forwarded-for` entry): a policy would then check an address the agent chose.
   */
  readonly context?: (c: Context) => Record<string, unknown> | undefined;
  /**
   * The URL the client called, which a DPoP proof's `htu` must name (default `c.req.url`). Behind
   * a proxy that rewrites host or scheme, give the public URL.
   */
  readonly requestUrl?: (c: Context) => string;
};

/**
 * Creates a middleware that checks the request's Bearer or DPoP-bound token (with its `DPoP`
 * proof) with a Mandate guard. A refusal answers 401/403 with the RFC 6750 or RFC 9449
 * `WWW-Authenticate` challenge, or 503 when Mandate cannot be asked; a permit sets `c.var.mandate`.
 */
export function requireMandate(
  options: RequireMandateOptions,
): MiddlewareHandler<{ Variables: MandateVariables }> {
  const { action, context, requestUrl } = options;
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
      request: {
        method: c.req.method,
        url: requestUrl ? requestUrl(c) : c.req.url,
        dpop: c.req.header('dpop'),
      },
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

/**
 * Creates the RFC 8935 push endpoint for Mandate's CAEP events (mount it with `app.post`): a
 * verified `session-revoked` or `token-claims-change` SET drops the guard's cached permits for
 * its grant before the 202 goes out. Refusals are 400 `{"err", "description"}`; a body over
 * 64 KiB is not read further.
 */
export function mandateEventReceiver(
  guard: MandateGuard,
  options: SecurityEventReceiverOptions = {},
): Handler {
  return async function mandateEvents(c: Context) {
    const body = await readCapped(c.req.raw, MAX_SET_BYTES);
    const answer = await handleSecurityEventRequest(
      guard,
      { headers: c.req.raw.headers, body },
      options,
    );
    return new Response(answer.body || null, { status: answer.status, headers: answer.headers });
  };
}

/**
 * The body, or only its first `limit + 1` bytes when it is longer: enough for the size check to
 * refuse it without buffering whatever a sender streams.
 */
async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await request.body?.cancel();
    return new Uint8Array(limit + 1);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks);
}
