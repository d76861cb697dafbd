// GET /.well-known/authzen-configuration: where the AuthZEN evaluation endpoints are (PDP metadata).
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { HttpDeps } from '../http-deps.ts';

/** The PDP metadata, mounted at `/` (it has no middleware of its own, so it leaks none to other paths). */
export function authzenConfigurationRoutes(
  deps: Pick<HttpDeps, 'broker'>,
  bodyLimit: MiddlewareHandler,
): OpenAPIHono {
  const issuer = deps.broker.settings.issuer;
  const app = new OpenAPIHono();
  app.get('/.well-known/authzen-configuration', bodyLimit, (c) =>
    c.json({
      policy_decision_point: issuer,
      access_evaluation_endpoint: `${issuer}/access/v1/evaluation`,
      access_evaluations_endpoint: `${issuer}/access/v1/evaluations`,
    }),
  );
  return app;
}
