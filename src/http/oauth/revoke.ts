// POST /oauth/revoke (RFC 7009): a client revokes its own access or refresh token; 200 either way.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { revokeOwnToken } from '../../services/revoke.ts';
import { authenticate } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { CLIENT_AUTH, OAUTH_ERRORS, requestBody } from '../openapi.ts';
import { parseOAuthForm, readOAuthForm } from '../read-body.ts';
import { CLIENT_POST_FIELDS } from './client-post-fields.ts';

/** The form parameters of `POST /oauth/revoke` (RFC 7009 2.1). */
export const TokenRevocationFormSchema = z.object({
  token: z
    .string()
    .min(1)
    .describe('the access or refresh token to revoke; revoking the refresh token ends the grant'),
  token_type_hint: z
    .enum(['access_token', 'refresh_token'])
    .optional()
    .describe('which kind of token this is (a hint)'),
  ...CLIENT_POST_FIELDS,
});

export const revokeRoute = createRoute({
  method: 'post',
  path: '/revoke',
  tags: ['OAuth'],
  summary: 'Revoke an own token (RFC 7009)',
  description:
    'A client revokes its own access or refresh token; revoking the refresh token ends the grant. 200 even for unknown tokens.',
  security: CLIENT_AUTH,
  responses: { 200: { description: 'revoked (or unknown): empty body' }, ...OAUTH_ERRORS },
});

/** Registers `POST /oauth/revoke` on the OAuth sub-app. */
export function registerRevoke(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  const body = requestBody(
    app,
    'TokenRevocationRequest',
    TokenRevocationFormSchema,
    'application/x-www-form-urlencoded',
    { token: 'rt_8Jx2YqLw0mN5vB7cZ3kP', token_type_hint: 'refresh_token' },
  );
  app.openapi(
    { ...revokeRoute, request: { body }, middleware: [rateLimit] as const },
    async function revoke(c) {
      const form = await readOAuthForm(c);
      // RFC 7009 2.1: a public client revokes its own tokens naming itself with client_id.
      const client = await authenticate(c, form, deps.broker, { allowPublic: true });
      const { token, token_type_hint: hint } = parseOAuthForm(form, TokenRevocationFormSchema, {
        token_type_hint: 'unsupported_token_type',
      });
      if (token.length <= 16_384) await revokeOwnToken(deps.broker, client, token, hint);
      return c.body(null, 200, { 'Cache-Control': 'no-store' });
    },
  );
}
