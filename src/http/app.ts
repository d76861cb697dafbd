// The Hono app: every route, body limits, request metrics and logs, health and readiness.
import type { IncomingMessage } from 'node:http';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import { OAuthError } from '../domain/errors.ts';
import { DEFAULT_JSON_LIMITS } from '../domain/json-bounds.ts';
import { requireAdmin } from './admin-auth.ts';
import { discardBody } from './discard-body.ts';
import type { HttpDeps } from './http-deps.ts';
import { renderOAuthError } from './oauth-response.ts';
import { problem } from './problem-response.ts';
import { createRateLimit } from './rate-limit.ts';
import { accessEvaluationRoutes } from './routes/access-evaluation.ts';
import { adminApprovalRoutes } from './routes/admin-approvals.ts';
import { adminClientRoutes } from './routes/admin-clients.ts';
import { adminDecisionRoutes } from './routes/admin-decisions.ts';
import { adminGrantRoutes } from './routes/admin-grants.ts';
import { adminKeyRoutes } from './routes/admin-keys.ts';
import { adminPolicyRoutes } from './routes/admin-policies.ts';
import { adminReceiverRoutes } from './routes/admin-receivers.ts';
import { adminRevocationRoutes } from './routes/admin-revocations.ts';
import { apiDocRoutes } from './routes/api-docs.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { introspectRoute } from './routes/oauth-introspect.ts';
import { revokeRoute } from './routes/oauth-revoke.ts';
import { tokenRoute } from './routes/oauth-token.ts';
import { signalRoutes } from './routes/signals.ts';

export function createApp(deps: HttpDeps): Hono {
  const app = new Hono();

  app.use('*', async function observe(c, next) {
    const start = performance.now();
    await next();
    const seconds = (performance.now() - start) / 1000;
    const route = routePath(c) || 'unmatched';
    deps.metrics.observeRequest(route, c.req.method, c.res.status, seconds);
    if (c.res.status >= 500)
      deps.log.warn(
        { method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) },
        'request failed',
      );
    else
      deps.log.debug(
        { method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) },
        'request',
      );
  });

  const tooLarge = (limit: number) => (c: Context) =>
    c.req.path.startsWith('/oauth/')
      ? renderOAuthError(c, new OAuthError('invalid_request', 'request body too large'), deps.log)
      : c.req.path.startsWith('/access/')
        ? c.json(
            {
              decision: false,
              context: { reason_admin: { en: 'request body too large', code: 'invalid_request' } },
            },
            413,
          )
        : problem(413, 'Payload too large', `the body must be at most ${limit} bytes`);
  /**
   * The refusal of a body declared larger than the limit. A body within the drain bound is read
   * and dropped first, so a client that writes it all before reading sees the answer rather than
   * a reset; the connection then stays usable. A larger one is answered at once and closed.
   */
  const refuseOversized = async (
    c: Context,
    declaredBytes: number,
    res: Response | Promise<Response>,
  ): Promise<Response> => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming) return res;
    const drained =
      declaredBytes <= (deps.oversizedBodyDrainBytes ?? 0) &&
      (await discardBody(incoming, declaredBytes));
    const answer = await res;
    if (!drained) answer.headers.set('Connection', 'close');
    return answer;
  };
  const batchLimit = bodyLimit({
    maxSize: deps.batchBodyLimitBytes,
    onError: tooLarge(deps.batchBodyLimitBytes),
  });
  const limit = bodyLimit({ maxSize: deps.bodyLimitBytes, onError: tooLarge(deps.bodyLimitBytes) });
  const jsonLimits = deps.jsonLimits ?? DEFAULT_JSON_LIMITS;
  app.use('*', async function limitBody(c, next) {
    // Read by every JSON body reader (read-body.ts), so all routes share the configured bounds.
    c.set('jsonLimits', jsonLimits);
    const max =
      c.req.path === '/access/v1/evaluations' ? deps.batchBodyLimitBytes : deps.bodyLimitBytes;
    // With a Content-Length (and no chunking) Node's parser already holds the body to that length:
    // the header decides, and the body stays on node-server's fast path (no web stream built).
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > max) return refuseOversized(c, Number(length), tooLarge(max)(c));
      return next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return max === deps.batchBodyLimitBytes ? batchLimit(c, next) : limit(c, next);
  });

  // Before every authenticating route (and the admin guard), so a blocked caller is refused before any secret is compared.
  if (deps.rateLimit) app.use('*', createRateLimit(deps, deps.rateLimit));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) =>
    c.text(await deps.metrics.registry.metrics(), 200, {
      'Content-Type': deps.metrics.registry.contentType,
    }),
  );

  app.route('/', apiDocRoutes(deps));
  app.route('/', discoveryRoutes(deps));
  app.route('/', tokenRoute(deps));
  app.route('/', introspectRoute(deps));
  app.route('/', revokeRoute(deps));
  app.route('/', signalRoutes(deps));
  app.route('/', accessEvaluationRoutes(deps));

  app.use('/admin/*', requireAdmin(deps));
  app.route('/', adminClientRoutes(deps));
  app.route('/', adminRevocationRoutes(deps));
  app.route('/', adminPolicyRoutes(deps));
  app.route('/', adminDecisionRoutes(deps));
  app.route('/', adminGrantRoutes(deps));
  app.route('/', adminKeyRoutes(deps));
  app.route('/', adminApprovalRoutes(deps));
  if (deps.receivers) app.route('/', adminReceiverRoutes({ ...deps, receivers: deps.receivers }));

  app.notFound((c) =>
    c.req.path.startsWith('/oauth/')
      ? renderOAuthError(c, new OAuthError('invalid_request', 'no such endpoint'), deps.log)
      : problem(404, 'Not found', `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`),
  );
  app.onError((err, c) => {
    deps.log.error({ err, path: c.req.path }, 'unhandled error');
    return problem(500, 'Internal error');
  });
  return app;
}
