// The signals sub-app (/v1/signals): RFC 9457 problem+json, its body limit and the rate limit.
import { OpenAPIHono } from '@hono/zod-openapi';
import { ProblemError } from '../../domain/errors.ts';
import { createBodyLimit } from '../body-limit.ts';
import type { HttpDeps } from '../http-deps.ts';
import { problemTooLarge, problemTooMany, renderProblem } from '../problem-response.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { registerReportSignal } from './report-signal.ts';

/** `POST /v1/signals`, where a resource (HTTP Basic) or an admin (bearer) reports a context change. */
export function createSignalsApp(deps: HttpDeps, limiter: RateLimiter): OpenAPIHono {
  const app = new OpenAPIHono().basePath('/v1');
  app.use(
    '*',
    createBodyLimit(deps, deps.bodyLimitBytes, (_c, max) => problemTooLarge(max)),
  );
  registerReportSignal(app, deps, limiter.guard({ tooMany: problemTooMany }));
  app.onError((err, c) => {
    // A failed client authentication is an OAuthError: here it is a problem+json 401 like the admin's.
    const res =
      err instanceof Error && err.name === 'OAuthError'
        ? renderProblem(
            c,
            new ProblemError(
              401,
              'Unauthorized',
              'resource client or admin authentication is required',
            ),
            deps.log,
          )
        : renderProblem(c, err, deps.log);
    // RFC 9110 11.6.1: a 401 names the schemes that would work.
    if (res.status === 401)
      res.headers.set('WWW-Authenticate', 'Basic realm="mandate", Bearer realm="mandate-admin"');
    return res;
  });
  return app;
}
