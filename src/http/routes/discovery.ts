// RFC 8414 metadata and the JWKS (public keys only).
import { Hono } from 'hono';
import type { HttpDeps } from '../http-deps.ts';
import { GRANT_TYPES } from './oauth-token.ts';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

export function discoveryRoutes(deps: HttpDeps): Hono {
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
  return new Hono()
    .get('/.well-known/oauth-authorization-server', (c) =>
      c.json(metadata, 200, { 'Cache-Control': 'public, max-age=300' }),
    )
    .get('/.well-known/jwks.json', (c) =>
      c.json(deps.keyRing.jwks(), 200, { 'Cache-Control': 'public, max-age=60' }),
    );
}
