// GET /.well-known/authzen-configuration: where the AuthZEN evaluation endpoints are (PDP metadata).
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { HttpDeps } from '../http-deps.ts';
import { jsonReply, NO_AUTH } from '../openapi.ts';

const AuthZenConfigurationSchema = z
  .object({
    policy_decision_point: z.string(),
    access_evaluation_endpoint: z.string(),
    access_evaluations_endpoint: z.string(),
  })
  .meta({ id: 'AuthZenConfiguration' });

function configurationOf(issuer: string): z.infer<typeof AuthZenConfigurationSchema> {
  return {
    policy_decision_point: issuer,
    access_evaluation_endpoint: `${issuer}/access/v1/evaluation`,
    access_evaluations_endpoint: `${issuer}/access/v1/evaluations`,
  };
}

const configurationRoute = createRoute({
  method: 'get',
  path: '/.well-known/authzen-configuration',
  tags: ['Discovery'],
  summary: 'AuthZEN PDP metadata',
  description: 'Where the AuthZEN evaluation endpoints are.',
  security: NO_AUTH,
  responses: {
    200: jsonReply(
      'the PDP metadata',
      AuthZenConfigurationSchema,
      configurationOf('https://mandate.example.com'),
    ),
  },
});

/** The PDP metadata, mounted at `/` (it has no middleware of its own, so it leaks none to other paths). */
export function authzenConfigurationRoutes(
  deps: Pick<HttpDeps, 'broker'>,
  bodyLimit: MiddlewareHandler,
): OpenAPIHono {
  const configuration = configurationOf(deps.broker.settings.issuer);
  const app = new OpenAPIHono();
  app.openapi({ ...configurationRoute, middleware: [bodyLimit] as const }, (c) =>
    c.json(configuration, 200),
  );
  return app;
}
