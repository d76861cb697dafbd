// The AuthZEN sub-app (/access/v1/*): AuthZEN's error shape, the single and the batch body limits, the rate limit.
import { OpenAPIHono } from '@hono/zod-openapi';
import { createBodyLimit } from '../body-limit.ts';
import type { HttpDeps } from '../http-deps.ts';
import { problemNotFound } from '../problem-response.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { registerEvaluation } from './evaluation.ts';
import { registerEvaluations } from './evaluations.ts';
import { authzenTooLarge, authzenTooMany, renderAuthZenError } from './refusal.ts';

/** The AuthZEN evaluation endpoints under /access/v1; mounted at `/` by the app. */
export function createAuthZenApp(deps: HttpDeps, limiter: RateLimiter): OpenAPIHono {
  const app = new OpenAPIHono().basePath('/access/v1');
  const limit = createBodyLimit(deps, deps.bodyLimitBytes, authzenTooLarge);
  const rateLimit = limiter.guard({ tooMany: authzenTooMany, checksTokens: true });
  registerEvaluation(app, deps, [limit, rateLimit]);
  // The batch carries up to 100 evaluations: its own, larger limit.
  registerEvaluations(app, deps, [
    createBodyLimit(deps, deps.batchBodyLimitBytes, authzenTooLarge),
    rateLimit,
  ]);
  // Another path or method here is not an AuthZEN endpoint: 404 problem+json, after the body limit.
  app.all('*', limit, (c) => problemNotFound(c));
  app.onError((err) => renderAuthZenError(err, deps.log));
  return app;
}
