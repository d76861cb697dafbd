// GET /healthz, /readyz and /metrics: liveness, readiness and Prometheus metrics, unauthenticated.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { BlankEnv } from 'hono/types';
import { z } from 'zod';
import type { HttpDeps } from './http-deps.ts';
import { jsonReply, NO_AUTH } from './openapi.ts';

const HealthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
const ReadinessSchema = z
  .object({
    status: z.enum(['ready', 'not ready']),
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
  description: '200 only when Redis, the signing keys and the policy set are loaded.',
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
    const checks = await deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    return ready
      ? c.json({ status: 'ready' as const, checks }, 200)
      : c.json({ status: 'not ready' as const, checks }, 503);
  });
  app.openapi({ ...metricsRoute, middleware: [bodyLimit] as const }, async (c) =>
    c.text(await deps.metrics.registry.metrics(), 200, {
      'Content-Type': deps.metrics.registry.contentType,
    }),
  );
}
