// POST /oauth/token: client_credentials with agent_task authorization_details, and refresh_token.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { pollApproval } from '../../services/approvals.ts';
import { approvedIntentHandlers } from '../../services/approved-intents.ts';
import { mintToken } from '../../services/mint-token.ts';
import { refreshToken } from '../../services/refresh-token.ts';
import { authenticate } from '../client-auth.ts';
import { clientIp, type HttpDeps } from '../http-deps.ts';
import { oauthJson } from '../oauth-response.ts';
import { parseOAuthForm, readOAuthForm } from '../read-body.ts';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';
export const GRANT_TYPES = ['client_credentials', 'refresh_token', CIBA_GRANT_TYPE] as const;

/**
 * The form parameters of `POST /oauth/token`: what the route validates and what /openapi.json
 * documents. Lengths are left to the services, which answer with their own RFC codes.
 */
export const TokenRequestFormSchema = z
  .object({
    grant_type: z
      .enum(GRANT_TYPES)
      .describe(
        'client_credentials for a new task, refresh_token for a new access token of the same grant, or the OpenID CIBA poll',
      ),
    authorization_details: z
      .string()
      .optional()
      .describe(
        'RFC 9396 JSON array of agent_task entries (type, task_id, purpose, actions, locations, datatypes, steps, ttl); required for client_credentials unless scope and resource are both given; with refresh_token it asks to widen the grant. At most limits.max_pairs_per_request (default 64) (action, location) pairs, and limits.max_pairs_per_grant (default 64), else invalid_authorization_details',
      ),
    resource: z
      .array(z.string())
      .optional()
      .describe('RFC 8707 resource indicator; may be repeated; narrows the locations asked for'),
    scope: z
      .string()
      .optional()
      .describe('space-separated actions; with resource, a shorthand for one agent_task entry'),
    refresh_token: z
      .string()
      .optional()
      .describe(
        'grant_type=refresh_token: the grant handle from the last token response (rotated on every use)',
      ),
    auth_req_id: z
      .string()
      .optional()
      .describe('CIBA poll: the auth_req_id of an approval_required answer'),
    client_id: z
      .string()
      .optional()
      .describe('client_secret_post: the client id (omit with HTTP Basic)'),
    client_secret: z
      .string()
      .optional()
      .describe('client_secret_post: the client secret (omit with HTTP Basic)'),
  })
  .superRefine((f, ctx) => {
    if (f.grant_type === 'refresh_token' && f.refresh_token === undefined)
      ctx.addIssue({ code: 'custom', path: ['refresh_token'], message: 'required' });
    if (f.grant_type === CIBA_GRANT_TYPE && f.auth_req_id === undefined)
      ctx.addIssue({ code: 'custom', path: ['auth_req_id'], message: 'required' });
  });
export type TokenRequestForm = z.infer<typeof TokenRequestFormSchema>;

/** Registers `POST /oauth/token` on the OAuth sub-app (errors go to its RFC 6749 renderer). */
export function registerToken(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  const { broker } = deps;
  app.post('/token', rateLimit, async function token(c) {
    const form = await readOAuthForm(c);
    const client = await authenticate(c, form, broker);
    const params = parseOAuthForm(form, TokenRequestFormSchema, {
      grant_type: 'unsupported_grant_type',
    });
    const ip = clientIp(c, deps);
    if (params.grant_type === 'client_credentials') {
      return oauthJson(
        c,
        await mintToken(broker, client, {
          authorizationDetails: params.authorization_details,
          resources: params.resource ?? [],
          scope: params.scope,
          ip,
        }),
      );
    }
    if (params.grant_type === 'refresh_token') {
      return oauthJson(
        c,
        await refreshToken(broker, client, {
          refreshToken: params.refresh_token,
          ip,
          authorizationDetails: params.authorization_details,
          resources: params.resource ?? [],
          scope: params.scope,
        }),
      );
    }
    return oauthJson(
      c,
      await pollApproval(
        broker,
        client,
        params.auth_req_id,
        ip,
        approvedIntentHandlers(broker, ip),
      ),
    );
  });
}
