// POST /oauth/introspect (RFC 7662): resource clients only; inactive for anything doubtful.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { StoreUnavailable } from '../../domain/errors.ts';
import { introspectToken } from '../../services/introspect-token.ts';
import { authenticate } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { oauthJson } from '../oauth-response.ts';
import {
  AuthorizationDetailsSchema,
  CLIENT_AUTH,
  jsonReply,
  OAUTH_ERRORS,
  requestBody,
} from '../openapi.ts';
import { reportInvalidTokens } from '../rate-limit.ts';
import { parseOAuthForm, readOAuthForm } from '../read-body.ts';

/** The form parameters of `POST /oauth/introspect` (RFC 7662 2.1); no length cap, an oversized token is simply inactive. */
export const IntrospectionRequestFormSchema = z.object({
  token: z.string().min(1).describe('the access token to check'),
  token_type_hint: z.string().optional().describe('ignored: only access tokens are introspected'),
  client_id: z
    .string()
    .optional()
    .describe('client_secret_post: the resource client id (omit with HTTP Basic)'),
  client_secret: z
    .string()
    .optional()
    .describe('client_secret_post: the resource client secret (omit with HTTP Basic)'),
});

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
  })
  .loose()
  .meta({ id: 'IntrospectionResponse' });

export const introspectRoute = createRoute({
  method: 'post',
  path: '/introspect',
  tags: ['OAuth'],
  summary: 'Introspect a token (RFC 7662)',
  description:
    'Resource clients only. `active` is false for an expired, revoked, foreign-audience or unknown token, for a token of a revoked or suspended grant, and whenever Mandate cannot check (fail closed).',
  security: CLIENT_AUTH,
  responses: {
    200: jsonReply('the token state', IntrospectionResponseSchema, {
      active: true,
      iss: 'https://mandate.example.com',
      sub: 'agent-1',
      client_id: 'agent-1',
      aud: 'https://files.example.com',
      exp: 1767225900,
      iat: 1767225600,
      jti: 'j_01HZY3KB2N7C',
      scope: 'read',
      token_type: 'Bearer',
      grant_id: 'g_01HZY3K9Q4W8',
    }),
    ...OAUTH_ERRORS,
  },
});

/** Registers `POST /oauth/introspect` on the OAuth sub-app. */
export function registerIntrospect(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  const body = requestBody(
    app,
    'IntrospectionRequest',
    IntrospectionRequestFormSchema,
    'application/x-www-form-urlencoded',
    { token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2ln' },
  );
  app.openapi(
    { ...introspectRoute, request: { body }, middleware: [rateLimit] as const },
    async function introspect(c) {
      try {
        const form = await readOAuthForm(c);
        const caller = await authenticate(c, form, deps.broker);
        const { token } = parseOAuthForm(form, IntrospectionRequestFormSchema);
        const answer = await introspectToken(deps.broker, caller, token);
        if (!answer.active) reportInvalidTokens(c, 1);
        return oauthJson(c, answer);
      } catch (err) {
        // Fail closed in the answer a careless caller reads: no store, no "active" (and nothing revealed).
        if (!(err instanceof StoreUnavailable)) throw err;
        reportInvalidTokens(c, 1);
        return oauthJson(c, { active: false });
      }
    },
  );
}
