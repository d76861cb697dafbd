// POST /oauth/token: client_credentials with agent_task authorization_details, and refresh_token.
import { Hono } from 'hono';
import { OAuthError } from '../../domain/errors.ts';
import { pollApproval } from '../../services/approvals.ts';
import { approvedIntentHandlers } from '../../services/approved-intents.ts';
import { mintToken } from '../../services/mint-token.ts';
import { refreshToken } from '../../services/refresh-token.ts';
import { authenticate } from '../client-auth.ts';
import { type HttpDeps, clientIp } from '../http-deps.ts';
import { oauthJson, renderOAuthError } from '../oauth-response.ts';
import { readOAuthForm } from '../read-body.ts';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';
export const GRANT_TYPES = ['client_credentials', 'refresh_token', CIBA_GRANT_TYPE] as const;

export function tokenRoute(deps: HttpDeps): Hono {
  const { broker } = deps;
  return new Hono().post('/oauth/token', async function token(c) {
    try {
      const form = await readOAuthForm(c);
      const client = await authenticate(c, form, broker);
      const grantType = form.get('grant_type');
      const ip = clientIp(c, deps);
      if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
      if (grantType === 'client_credentials') {
        return oauthJson(
          c,
          await mintToken(broker, client, {
            authorizationDetails: form.get('authorization_details'),
            resources: form.all('resource'),
            scope: form.get('scope'),
            ip,
          }),
        );
      }
      if (grantType === 'refresh_token') {
        return oauthJson(
          c,
          await refreshToken(broker, client, {
            refreshToken: form.get('refresh_token'),
            ip,
            authorizationDetails: form.get('authorization_details'),
            resources: form.all('resource'),
            scope: form.get('scope'),
          }),
        );
      }
      if (grantType === CIBA_GRANT_TYPE) {
        return oauthJson(c, await pollApproval(broker, client, form.get('auth_req_id'), ip, approvedIntentHandlers(broker, ip)));
      }
      throw new OAuthError('unsupported_grant_type', `grant_type ${grantType.slice(0, 64)} is not supported`);
    } catch (err) {
      return renderOAuthError(c, err, deps.log);
    }
  });
}
