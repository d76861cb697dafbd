// The admin sub-app (/admin/*): RFC 9457 problem+json, its body limit, the rate limit, the operator's token, then each route's permission.
import { OpenAPIHono } from '@hono/zod-openapi';
import { createBodyLimit } from '../body-limit.ts';
import type { HttpDeps } from '../http-deps.ts';
import { problemTooLarge, problemTooMany, renderProblem } from '../problem-response.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { type AdminEnv, requireAdmin } from './admin-auth.ts';
import { registerApprovals } from './approvals.ts';
import { registerClients } from './clients.ts';
import { registerDecisions } from './decisions.ts';
import { registerGrants } from './grants.ts';
import { registerKeys } from './keys.ts';
import { registerPolicies } from './policies.ts';
import { registerReceivers } from './receivers.ts';
import { registerRevocations } from './revocations.ts';
import { registerTokens } from './tokens.ts';
import { registerTrustedIssuers } from './trusted-issuers.ts';

/** The admin API under /admin; mounted at `/` by the app. Unknown admin paths fall to the app's problem+json 404. */
export function createAdminApp(deps: HttpDeps, limiter: RateLimiter): OpenAPIHono<AdminEnv> {
  const app = new OpenAPIHono<AdminEnv>().basePath('/admin');
  app.use(
    '*',
    createBodyLimit(deps, deps.bodyLimitBytes, (_c, max) => problemTooLarge(max)),
  );
  // Before the admin guard, so a blocked caller is refused before any token is compared.
  app.use('*', limiter.guard({ tooMany: problemTooMany }));
  app.use('*', requireAdmin(deps));
  registerClients(app, deps);
  registerRevocations(app, deps);
  registerPolicies(app, deps);
  registerDecisions(app, deps);
  registerGrants(app, deps);
  registerKeys(app, deps);
  registerApprovals(app, deps);
  registerTrustedIssuers(app, deps);
  registerTokens(app, deps);
  if (deps.receivers) registerReceivers(app, { ...deps, receivers: deps.receivers });
  app.onError((err, c) => renderProblem(c, err, deps.log));
  return app;
}
