// The sign-in page (an operator token, or a link to the upstream OpenID Provider), the token sign-in (a form post; the session lives in Redis, the cookie holds its id) and sign-out.
import { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';
import { mapsAnyRole } from '../../domain/operator-sign-in.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { noteAuthenticated } from '../rate-limit.ts';
import { readForm } from './form.ts';
import { Document } from './layout.tsx';
import { operatorOfToken } from './operator.ts';
import {
  type ConsoleApp,
  type ConsoleDeps,
  checkCsrf,
  endSession,
  issueSignInToken,
  requireSession,
  signInTokenMatches,
  startSession,
} from './session.ts';

const SignInSchema = z
  .object({
    operator_token: z.string().min(1).max(512),
    signin: z.string().max(128),
    next: z.string().max(2000).optional(),
  })
  .strict();

/** Where to go after signing in: a console path only (never another site, never `//host`). */
export function safeNext(next: string | undefined): string {
  if (!next || !/^\/console(?:[/?][^\\\s]*)?$/.test(next) || next.includes('//')) return '/console';
  return next;
}

function SignInPage(props: {
  signin: string;
  next: string;
  failed: boolean;
  /** The upstream OpenID Provider's name, when operators may sign in there. */
  provider?: string | undefined;
}) {
  return (
    <Document title="Sign in">
      <main id="main" class="sign-in">
        <h1>Mandate console</h1>
        {props.provider ? (
          <>
            <a
              class="button provider"
              href={`/console/sign-in/oidc?next=${encodeURIComponent(props.next)}`}
            >
              Sign in with {props.provider}
            </a>
            <p class="or">or with an operator token</p>
          </>
        ) : null}
        <form method="post" action="/console/sign-in">
          <input type="hidden" name="signin" value={props.signin} />
          <input type="hidden" name="next" value={props.next} />
          {props.failed ? (
            <p class="error" role="alert" id="sign-in-error">
              That operator token is not valid.
            </p>
          ) : null}
          <label for="operator_token">Operator token</label>
          <input
            id="operator_token"
            name="operator_token"
            type="password"
            autocomplete="current-password"
            required
            autofocus
            aria-describedby={props.failed ? 'sign-in-error' : undefined}
          />
          <button type="submit">Sign in</button>
        </form>
        <p class="hint">
          The token is checked once; the browser then holds only a session cookie, which ends at
          sign-out, after a while without use, or at the latest after a working day.
          {props.provider
            ? ' Roles from the identity provider are read when you sign in: a change of groups applies at your next sign-in.'
            : null}
        </p>
      </main>
    </Document>
  );
}

/** GET and POST /console/sign-in, POST /console/sign-out. */
export function registerSignIn(app: ConsoleApp, deps: ConsoleDeps, limiter: RateLimiter): void {
  app.get('/sign-in', (c) =>
    c.html(
      <SignInPage
        signin={issueSignInToken(c, deps)}
        next={safeNext(c.req.query('next'))}
        failed={false}
        provider={offeredProvider(deps)}
      />,
    ),
  );
  // The rate limit counts failed sign-ins (401) like failed admin bearer tokens.
  app.post('/sign-in', limiter.guard({ tooMany: tooManySignIns }), async (c) => {
    const form = await readForm(c, SignInSchema);
    if (!signInTokenMatches(c, deps, form.signin))
      throw new ProblemError(403, 'Form expired', 'reload the sign-in page and try again');
    const operator = await operatorOfToken(deps, form.operator_token);
    const next = safeNext(form.next);
    if (!operator)
      return c.html(
        <SignInPage
          signin={issueSignInToken(c, deps)}
          next={next}
          failed={true}
          provider={offeredProvider(deps)}
        />,
        401,
      );
    noteAuthenticated(c, { kind: 'admin', token: form.operator_token });
    await startSession(c, deps, operator);
    deps.log.info({ operator: operator.id }, 'console sign-in');
    return c.redirect(next, 303);
  });
  app.post('/sign-out', requireSession(deps), async (c) => {
    checkCsrf(c, deps, (await readForm(c, z.object({ csrf: z.string() }).strict())).csrf);
    await endSession(c, deps);
    return c.redirect('/console/sign-in', 303);
  });
}

/** The provider's name when upstream sign-in is configured and maps at least one role. */
function offeredProvider(deps: ConsoleDeps): string | undefined {
  const oidc = deps.console.oidc;
  return oidc && mapsAnyRole(oidc.roleGroups) ? oidc.providerName : undefined;
}

/** 429 for a source or token that failed too often: plain text, with Retry-After. */
function tooManySignIns(why: string, retryAfterSec: number): Response {
  return new Response(`Too many sign-in attempts (${why}). Try again in ${retryAfterSec} s.`, {
    status: 429,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'Retry-After': String(retryAfterSec),
    },
  });
}
