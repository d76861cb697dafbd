// The JSON the OAuth endpoints answer with (RFC 6749 5.1, RFC 7662, RFC 9396): built by the services, documented by the routes.
import { z } from 'zod';
import { ActClaimSchema } from '../delegation.ts';
import { AuthorizationDetailsSchema as DecodedAuthorizationDetails } from '../intent.ts';

/**
 * The decoded `authorization_details` (RFC 9396): a JSON array of `agent_task` entries, named
 * once as a component. In a form field it is this array serialised as JSON.
 */
export const AuthorizationDetailsSchema = DecodedAuthorizationDetails.meta({
  id: 'AuthorizationDetails',
  description:
    'RFC 9396 authorization_details: a JSON array of agent_task entries. In a form body it is this array serialised as JSON in one field.',
});

/** The JSON a token request answers with (RFC 6749 5.1 + RFC 9396). */
export const TokenResponseSchema = z
  .object({
    access_token: z.string().describe('RFC 9068 JWT (typ at+jwt)'),
    token_type: z
      .enum(['Bearer', 'DPoP'])
      .describe('DPoP when the request carried a DPoP proof: the token has cnf.jkt (RFC 9449)'),
    expires_in: z.number().int().describe('seconds; at most 900'),
    scope: z
      .string()
      .describe('the granted actions, space-separated (a caller token: mandate:resource)'),
    authorization_details: AuthorizationDetailsSchema.optional().describe(
      'exactly what was granted (may be narrower than asked); absent for a caller token',
    ),
    refresh_token: z
      .string()
      .optional()
      .describe(
        "the grant's handle; rotated on every use, a reused one revokes the grant (absent when an approved elevation keeps the current one)",
      ),
    grant_id: z.string().optional().describe('absent for a caller token'),
    issued_token_type: z
      .string()
      .optional()
      .describe('token exchange (RFC 8693 2.2.1): urn:ietf:params:oauth:token-type:access_token'),
  })
  .meta({ id: 'TokenResponse' });
export type TokenResponse = z.infer<typeof TokenResponseSchema>;

/** The answer of `POST /oauth/introspect` (RFC 7662 2.2): inactive for anything doubtful. */
export const IntrospectionResponseSchema = z
  .object({
    active: z
      .boolean()
      .describe('false for anything expired, revoked, foreign, unknown or uncheckable'),
    iss: z.string().optional(),
    sub: z.string().optional(),
    client_id: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    jti: z.string().optional(),
    scope: z.string().optional(),
    token_type: z.enum(['Bearer', 'DPoP']).optional(),
    authorization_details: AuthorizationDetailsSchema.optional(),
    grant_id: z.string().optional(),
    cnf: z
      .object({ jkt: z.string() })
      .loose()
      .optional()
      .describe('RFC 9449: the thumbprint of the key a DPoP-bound token is bound to'),
    act: ActClaimSchema.optional().describe(
      'RFC 8693 4.1: a delegated token names who acts (the current actor outermost, prior ones nested); `sub` is the subject acted for',
    ),
  })
  .loose()
  .meta({ id: 'IntrospectionResponse' });
export type IntrospectionResponse = z.infer<typeof IntrospectionResponseSchema>;

/**
 * The answer of `GET /oauth/clients/{client_id}`: a client's own registration, read-only (the
 * client information response of RFC 7591 3.2.1 / RFC 7592 3, with Mandate's own members), never
 * a secret or its hash.
 */
export const ClientRegistrationSchema = z
  .object({
    client_id: z.string(),
    client_name: z.string(),
    client_id_issued_at: z.number().int().describe('epoch seconds'),
    token_endpoint_auth_method: z.string(),
    jwks_uri: z.string().optional(),
    redirect_uris: z.array(z.string()).optional(),
    kind: z.enum(['agent', 'resource']).describe('Mandate: an agent or a resource client'),
    resources: z
      .array(z.string())
      .describe('Mandate, resource clients: the resources it serves (canonical URIs)'),
    actions: z
      .array(z.string())
      .optional()
      .describe('Mandate, resource clients: the actions it serves (an MCP server: its tool names)'),
  })
  .meta({ id: 'ClientRegistration' });
export type ClientRegistration = z.infer<typeof ClientRegistrationSchema>;
