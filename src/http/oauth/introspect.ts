// POST /oauth/introspect (RFC 7662): resource clients only; inactive for anything doubtful.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { StoreUnavailable } from '../../domain/errors.ts';
import { introspectToken } from '../../services/introspect-token.ts';
import { authenticate } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { oauthJson } from '../oauth-response.ts';
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

/** Registers `POST /oauth/introspect` on the OAuth sub-app. */
export function registerIntrospect(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  app.post('/introspect', rateLimit, async function introspect(c) {
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
  });
}
