// The Hono app: request metrics and logs, health and readiness, the documents, and one sub-app per wire format.
import type { HttpBindings } from '@hono/node-server';
import { OpenAPIHono } from '@hono/zod-openapi';
import { routePath } from 'hono/route';
import type { BlankEnv } from 'hono/types';
import { DEFAULT_JSON_LIMITS } from '../domain/json-bounds.ts';
import { currentRequest, requestIdOf, runInRequest } from '../observability/request-context.ts';
import { createAdminApp } from './admin/app.ts';
import { registerApiDocs } from './api-docs.ts';
import { createAuthZenApp } from './authzen/app.ts';
import { authzenConfigurationRoutes } from './authzen/configuration.ts';
import { createBodyLimit, refuseOversized } from './body-limit.ts';
import { createConsoleApp } from './console/app.ts';
import type { HttpDeps } from './http-deps.ts';
import { createOAuthApp } from './oauth/app.ts';
import { discoveryRoutes } from './oauth/discovery.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { registerOperations } from './operations.ts';
import { problem, problemNotFound, problemTooLarge } from './problem-response.ts';
import { createRateLimit, NO_RATE_LIMIT } from './rate-limit.ts';
import { createSignalsApp } from './signals/app.ts';

export function createApp(deps: HttpDeps): OpenAPIHono<BlankEnv> {
  const app = new OpenAPIHono<BlankEnv>();

  app.use('*', async function observe(c, next) {
    const start = performance.now();
    // X-Request-Id in and out: a sane incoming one is kept, else one is made; every log line of
    // the request (its decisions included) names it.
    const requestId = requestIdOf(c.req.header('x-request-id'));
    // Served by Node: the header goes on the socket's response, where Node adds it to whatever
    // the route answers; reading `c.res.headers` instead would turn a response of plain headers
    // into a Fetch Headers object and take the adapter off its fast path on every request.
    const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
    outgoing?.setHeader('X-Request-Id', requestId);
    await runInRequest(requestId, async () => {
      await next();
      if (!outgoing) c.res.headers.set('X-Request-Id', requestId);
      const seconds = (performance.now() - start) / 1000;
      const route = routePath(c) || 'unmatched';
      deps.metrics.observeRequest(route, c.req.method, c.res.status, seconds);
      // The request's line is written at debug, or at warn when it failed: built only then.
      if (c.res.status < 500 && !deps.log.isLevelEnabled('debug')) return;
      const decisions = currentRequest()?.decisions ?? [];
      const line = {
        request_id: requestId,
        method: c.req.method,
        route,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
        ...(decisions.length
          ? {
              client_id: decisions[0]?.client_id,
              grant_id: decisions[0]?.grant_id,
              decisions: decisions.map((d) => ({
                id: d.id,
                kind: d.kind,
                outcome: d.outcome,
                reasons: d.reasons,
              })),
            }
          : {}),
      };
      if (c.res.status >= 500) deps.log.warn(line, 'request failed');
      else deps.log.debug(line, 'request');
    });
  });

  const jsonLimits = deps.jsonLimits ?? DEFAULT_JSON_LIMITS;
  app.use('*', async function setJsonLimits(c, next) {
    // Read by every JSON body reader (read-body.ts), so all routes share the configured bounds.
    c.set('jsonLimits', jsonLimits);
    await next();
  });

  // One rate limit (one set of counters and blocks) whose guards each sub-app places before it authenticates.
  const limiter = deps.rateLimit ? createRateLimit(deps, deps.rateLimit) : NO_RATE_LIMIT;
  // The plain routes below take the default limit too, answered in problem+json.
  const limit = createBodyLimit(deps, deps.bodyLimitBytes, (_c, max) => problemTooLarge(max));

  registerOperations(app, deps, limit);
  registerApiDocs(app, limit, () =>
    buildOpenApiDocument(app, { issuer: deps.broker.settings.issuer }),
  );
  app.route('/', discoveryRoutes(deps, limit));
  app.route('/', authzenConfigurationRoutes(deps, limit));
  app.route('/', createOAuthApp(deps, limiter));
  app.route('/', createSignalsApp(deps, limiter));
  app.route('/', createAuthZenApp(deps, limiter));
  app.route('/', createAdminApp(deps, limiter));
  if (deps.console) app.route('/', createConsoleApp({ ...deps, console: deps.console }, limiter));

  app.notFound((c) => {
    // Nothing serves this path, but a body declared over the limit is still refused as such.
    const length = c.req.header('content-length');
    if (
      length !== undefined &&
      c.req.header('transfer-encoding') === undefined &&
      Number(length) > deps.bodyLimitBytes
    )
      return refuseOversized(deps, c, Number(length), problemTooLarge(deps.bodyLimitBytes));
    return problemNotFound(c);
  });
  app.onError((err, c) => {
    deps.log.error({ err, path: c.req.path }, 'unhandled error');
    return problem(500, 'Internal error');
  });
  return app;
}
