// RFC 8414 metadata and the JWKS (public keys only).
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { ASSERTION_ALGS } from '../../domain/client-assertion.ts';
import { DPOP_ALGORITHMS } from '../../domain/dpop.ts';
import type { HttpDeps } from '../http-deps.ts';
import { jsonReply, NO_AUTH } from '../openapi.ts';
import { GRANT_TYPES } from './token.ts';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
/** The token and revocation endpoints also take public clients (`none`: the code grant, its refresh tokens, RFC 7009). */
const TOKEN_AUTH_METHODS = [...AUTH_METHODS, 'none'];
const SIGNING_ALGS = [...ASSERTION_ALGS];

const ServerMetadataSchema = z
  .object({
    issuer: z.string(),
    authorization_endpoint: z.string(),
    token_endpoint: z.string(),
    introspection_endpoint: z.string(),
    revocation_endpoint: z.string(),
    jwks_uri: z.string(),
    grant_types_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    response_modes_supported: z.array(z.string()),
    code_challenge_methods_supported: z.array(z.string()),
    authorization_response_iss_parameter_supported: z.boolean(),
    client_id_metadata_document_supported: z.boolean(),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    introspection_endpoint_auth_methods_supported: z.array(z.string()),
    revocation_endpoint_auth_methods_supported: z.array(z.string()),
    token_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
    introspection_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
    revocation_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
    authorization_details_types_supported: z.array(z.string()),
    backchannel_token_delivery_modes_supported: z.array(z.string()),
    scopes_supported: z.array(z.string()),
    dpop_signing_alg_values_supported: z.array(z.string()),
    service_documentation: z.string(),
  })
  .meta({ id: 'ServerMetadata' });

const JwksSchema = z
  .object({
    keys: z
      .array(z.record(z.string(), z.unknown()))
      .describe('public JWKs only (kid, kty, alg, use)'),
  })
  .meta({ id: 'Jwks' });

function metadataOf(issuer: string): z.infer<typeof ServerMetadataSchema> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: [...GRANT_TYPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
    token_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: TOKEN_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
    introspection_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
    revocation_endpoint_auth_signing_alg_values_supported: SIGNING_ALGS,
    authorization_details_types_supported: ['agent_task'],
    backchannel_token_delivery_modes_supported: ['poll'],
    scopes_supported: [],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    service_documentation: `${issuer}/docs`,
  };
}

const metadataRoute = createRoute({
  method: 'get',
  path: '/.well-known/oauth-authorization-server',
  tags: ['Discovery'],
  summary: 'Authorization server metadata (RFC 8414)',
  description:
    'Endpoints, grant types, client authentication methods and the `agent_task` authorization_details type.',
  security: NO_AUTH,
  responses: {
    200: jsonReply('the metadata', ServerMetadataSchema, metadataOf('https://mandate.example.com')),
  },
});

/** The same document at the OpenID Connect discovery path, for clients that look there first. */
const openidConfigurationRoute = createRoute({
  ...metadataRoute,
  path: '/.well-known/openid-configuration',
  summary: 'Authorization server metadata at the OpenID discovery path',
  description: 'The RFC 8414 document, also here for clients (MCP among them) that try this path.',
});

const jwksRoute = createRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  tags: ['Discovery'],
  summary: 'Signing keys (JWKS)',
  description: 'Public keys only; during a key rotation both the old and the new key.',
  security: NO_AUTH,
  responses: {
    200: jsonReply('the public keys', JwksSchema, {
      keys: [
        {
          kty: 'EC',
          crv: 'P-256',
          x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
          y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
          kid: 'k_2026-12-01',
          alg: 'ES256',
          use: 'sig',
        },
      ],
    }),
  },
});

/** The discovery documents, mounted at `/` (no middleware of its own, so it leaks none to other paths). */
export function discoveryRoutes(deps: HttpDeps, bodyLimit: MiddlewareHandler): OpenAPIHono {
  const metadata = metadataOf(deps.broker.settings.issuer);
  const app = new OpenAPIHono();
  app.openapi({ ...metadataRoute, middleware: [bodyLimit] as const }, (c) =>
    c.json(metadata, 200, { 'Cache-Control': 'public, max-age=300' }),
  );
  app.openapi({ ...openidConfigurationRoute, middleware: [bodyLimit] as const }, (c) =>
    c.json(metadata, 200, { 'Cache-Control': 'public, max-age=300' }),
  );
  app.openapi({ ...jwksRoute, middleware: [bodyLimit] as const }, (c) =>
    c.json(deps.keyRing.jwks(), 200, { 'Cache-Control': 'public, max-age=60' }),
  );
  return app;
}
