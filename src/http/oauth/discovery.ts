// RFC 8414 metadata and the JWKS (public keys only).
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { HttpDeps } from '../http-deps.ts';
import { GRANT_TYPES } from './token.ts';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

/** The discovery documents, mounted at `/` (no middleware of its own, so it leaks none to other paths). */
export function discoveryRoutes(deps: HttpDeps, bodyLimit: MiddlewareHandler): OpenAPIHono {
  const issuer = deps.broker.settings.issuer;
  const metadata = {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: [...GRANT_TYPES],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    authorization_details_types_supported: ['agent_task'],
    backchannel_token_delivery_modes_supported: ['poll'],
    scopes_supported: [],
    service_documentation: `${issuer}/docs`,
  };
  const app = new OpenAPIHono();
  app.get('/.well-known/oauth-authorization-server', bodyLimit, (c) =>
    c.json(metadata, 200, { 'Cache-Control': 'public, max-age=300' }),
  );
  app.get('/.well-known/jwks.json', bodyLimit, (c) =>
    c.json(deps.keyRing.jwks(), 200, { 'Cache-Control': 'public, max-age=60' }),
  );
  return app;
}
