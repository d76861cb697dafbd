// The console's error renderer: an HTML page with the status, a title and what to do; never a stack or a secret.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ProblemError, StoreUnavailable } from '../../domain/errors.ts';
import type { AppLogger } from '../../observability/logger.ts';
import { Document } from './layout.tsx';

export function errorPage(
  c: Context,
  status: ContentfulStatusCode,
  title: string,
  detail?: string,
): Response | Promise<Response> {
  const signIn = status === 401 || title === 'Signed out';
  return c.html(
    <Document title={title}>
      <main id="main" class="error-page">
        <h1>{title}</h1>
        {detail ? <p>{detail}</p> : null}
        <p>
          {signIn ? (
            <a href="/console/sign-in">Sign in</a>
          ) : (
            <a href="/console">Back to the console</a>
          )}
        </p>
        <p class="status">HTTP {status}</p>
      </main>
    </Document>,
    status,
  );
}

/** Turns what a console route threw into its page: a refusal as itself, an outage as 503, anything else as 500. */
export function renderConsoleError(
  c: Context,
  err: unknown,
  log: AppLogger,
): Response | Promise<Response> {
  if (err instanceof ProblemError)
    return errorPage(c, err.status as ContentfulStatusCode, err.title, err.message);
  if (err instanceof StoreUnavailable)
    return errorPage(
      c,
      503,
      'Service unavailable',
      'the store cannot be reached; nothing was changed',
    );
  log.error({ err, path: c.req.path }, 'unexpected error in the console');
  return errorPage(c, 500, 'Internal error', 'nothing more is shown here; see the broker log');
}
