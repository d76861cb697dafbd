// The OAuth sub-app (/oauth/*): RFC 6749 JSON errors, its body limit and rate limit, authorize (HTML), token, introspection, revocation, own registration.
import { OpenAPIHono } from '@hono/zod-openapi';
import { OAuthError } from '../../domain/errors.ts';
import { createBodyLimit } from '../body-limit.ts';
import type { HttpDeps } from '../http-deps.ts';
import { oauthTooLarge, oauthTooMany, renderOAuthError } from '../oauth-response.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { registerAuthorize } from './authorize.tsx';
import { registerClientRegistration } from './client-registration.ts';
import { registerIntrospect } from './introspect.ts';
import { registerRevoke } from './revoke.ts';
import { registerToken } from './token.ts';

export type OAuthApp = OpenAPIHono;

/** The OAuth endpoints under /oauth; mounted at `/` by the app. */
export function createOAuthApp(deps: HttpDeps, limiter: RateLimiter): OpenAPIHono {
  const app = new OpenAPIHono().basePath('/oauth');
  app.use(
    '*',
    createBodyLimit(deps, deps.bodyLimitBytes, (c) => oauthTooLarge(c, deps.log)),
  );
  registerAuthorize(app, deps);
  registerToken(app, deps, limiter.guard({ tooMany: oauthTooMany }));
  registerIntrospect(app, deps, limiter.guard({ tooMany: oauthTooMany, checksTokens: true }));
  registerRevoke(app, deps, limiter.guard({ tooMany: oauthTooMany }));
  registerClientRegistration(app, deps, limiter.guard({ tooMany: oauthTooMany }));
  // Any other method or path under /oauth is still answered in RFC 6749's shape.
  app.all('*', (c) =>
    renderOAuthError(c, new OAuthError('invalid_request', 'no such endpoint'), deps.log),
  );
  app.onError((err, c) => renderOAuthError(c, err, deps.log));
  return app;
}
