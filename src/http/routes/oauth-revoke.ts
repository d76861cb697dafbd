// POST /oauth/revoke (RFC 7009): a client revokes its own access or refresh token; 200 either way.
import { Hono } from 'hono';
import { OAuthError } from '../../domain/errors.ts';
import { revokeOwnToken } from '../../services/revoke.ts';
import { authenticate } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderOAuthError } from '../oauth-response.ts';
import { readOAuthForm } from '../read-body.ts';

const HINTS = new Set(['access_token', 'refresh_token']);

export function revokeRoute(deps: HttpDeps): Hono {
  return new Hono().post('/oauth/revoke', async function revoke(c) {
    try {
      const form = await readOAuthForm(c);
      const client = await authenticate(c, form, deps.broker);
      const token = form.get('token');
      if (!token) throw new OAuthError('invalid_request', 'token is required');
      const hint = form.get('token_type_hint');
      if (hint !== undefined && !HINTS.has(hint)) throw new OAuthError('unsupported_token_type', 'token_type_hint must be access_token or refresh_token');
      if (token.length <= 16_384) await revokeOwnToken(deps.broker, client, token, hint);
      return c.body(null, 200, { 'Cache-Control': 'no-store' });
    } catch (err) {
      return renderOAuthError(c, err, deps.log);
    }
  });
}
