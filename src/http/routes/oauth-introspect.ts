// POST /oauth/introspect (RFC 7662): resource clients only; inactive for anything doubtful.
import { Hono } from 'hono';
import { StoreUnavailable } from '../../domain/errors.ts';
import { introspectToken } from '../../services/introspect-token.ts';
import { authenticate } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { oauthJson, renderOAuthError } from '../oauth-response.ts';
import { readOAuthForm } from '../read-body.ts';

export function introspectRoute(deps: HttpDeps): Hono {
  return new Hono().post('/oauth/introspect', async function introspect(c) {
    try {
      const form = await readOAuthForm(c);
      const caller = await authenticate(c, form, deps.broker);
      return oauthJson(c, await introspectToken(deps.broker, caller, form.get('token')));
    } catch (err) {
      // Fail closed in the answer a careless caller reads: no store, no "active" (and nothing revealed).
      if (err instanceof StoreUnavailable) return oauthJson(c, { active: false });
      return renderOAuthError(c, err, deps.log);
    }
  });
}
