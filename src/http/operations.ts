// GET /healthz, /readyz and /metrics: liveness, readiness and Prometheus metrics, unauthenticated.
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { BlankEnv } from 'hono/types';
import { z } from 'zod';
import { createBodyLimit } from './body-limit.ts';
import type { HttpDeps } from './http-deps.ts';
import { jsonReply, NO_AUTH } from './openapi.ts';
import { problemNotFound, problemTooLarge } from './problem-response.ts';

const HealthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const ReadinessSchema = z
  .object({
    status: z.enum(['ready', 'degraded', 'not ready']),
    checks: z.record(z.string(), z.boolean()),
  })
  .meta({ id: 'Readiness' });

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['Operations'],
  summary: 'Liveness',
  description: '200 while the process lives.',
  security: NO_AUTH,
  responses: { 200: jsonReply('alive', HealthSchema, { status: 'ok' }) },
});

const readinessRoute = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['Operations'],
  summary: 'Readiness',
  description:
    '200 only when Redis, the signing keys and the policy set are loaded; `degraded` (still 200) when an audit sink is further behind than its queue holds or keeps failing (`checks.audit_sinks: false`): decisions go on, the records wait in the stream.',
  security: NO_AUTH,
  responses: {
    200: jsonReply('ready', ReadinessSchema, {
      status: 'ready',
      checks: { redis: true, keys: true, policy: true },
    }),
    503: jsonReply('not ready', ReadinessSchema, {
      status: 'not ready',
      checks: { redis: false, keys: true, policy: true },
    }),
  },
});

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['Operations'],
  summary: 'Prometheus metrics',
  description: 'Prometheus text exposition format.',
  security: NO_AUTH,
  responses: {
    200: {
      description: 'metrics',
      content: {
        'text/plain': {
          schema: z.string(),
          example:
            '# HELP mandate_http_requests_total HTTP requests\n# TYPE mandate_http_requests_total counter\nmandate_http_requests_total{route="/oauth/token",method="POST",status="200"} 42\n',
        },
      },
    },
  },
});

/** Registers the three on the root app, each behind the default body limit. */
export function registerOperations(
  app: OpenAPIHono<BlankEnv>,
  deps: HttpDeps,
  bodyLimit: MiddlewareHandler,
): void {
  app.openapi({ ...healthRoute, middleware: [bodyLimit] as const }, (c) =>
    c.json({ status: 'ok' as const }, 200),
  );
  app.openapi({ ...readinessRoute, middleware: [bodyLimit] as const }, async (c) => {
    const [core, degradations] = await Promise.all([
      deps.readiness(),
      deps.degradations?.().catch(() => ({})) ?? {},
    ]);
    const checks = { ...core, ...degradations };
    if (!Object.values(core).every(Boolean))
      return c.json({ status: 'not ready' as const, checks }, 503);
    const status = Object.values(degradations).every(Boolean) ? 'ready' : 'degraded';
    return c.json({ status, checks }, 200);
  });
  app.openapi({ ...metricsRoute, middleware: [bodyLimit] as const }, async (c) =>
    c.text(await deps.metrics.registry.metrics(), 200, {
      'Content-Type': deps.metrics.registry.contentType,
    }),
  );
}

/** Just /healthz, /readyz and /metrics: what a worker-only process (`mandate worker`) serves on `worker.metrics_port`. */
export function createOperationsApp(deps: HttpDeps): OpenAPIHono<BlankEnv> {
  const app = new OpenAPIHono<BlankEnv>();
  registerOperations(
    app,
    deps,
    createBodyLimit(deps, deps.bodyLimitBytes, (_c, max) => problemTooLarge(max)),
  );
  app.notFound((c) => problemNotFound(c));
  return app;
}
