// Operators sign in to the console at the upstream OpenID Provider (login.oidc): the start link and the provider's callback, then an ordinary console session.
import { OPERATOR_SIGN_IN_TTL_SEC } from '../../domain/operator-sign-in.ts';
import {
  finishOperatorSignIn,
  requireRoleGroups,
  startOperatorSignIn,
} from '../../services/operator-sign-in.ts';
import { tooManyStarts } from '../start-limit.ts';
import { errorPage } from './error-page.tsx';
import {
  type ConsoleApp,
  type ConsoleDeps,
  setUpstreamSignInCookie,
  startSession,
  takeUpstreamSignInCookie,
} from './session.ts';
import { safeNext } from './sign-in.tsx';

/**
 * GET /console/sign-in/oidc (the sign-in page's link: to the provider) and GET /console/callback
 * (the redirect URI to register at the provider). The operator's id is `oidc:<sub>`; their roles
 * are the groups their ID token carried at sign-in, mapped by `operators.role_groups`.
 */
export function registerOidcSignIn(app: ConsoleApp, deps: ConsoleDeps): void {
  const notConfigured = (c: Parameters<typeof errorPage>[0]) =>
    errorPage(
      c,
      404,
      'Not configured',
      'sign-in through an identity provider needs login.oidc in the configuration',
    );

  app.get('/sign-in/oidc', async (c) => {
    const oidc = deps.console.oidc;
    if (!oidc) return notConfigured(c);
    requireRoleGroups(oidc);
    // Each start keeps a pending sign-in in Redis for a few minutes: starts are counted per source.
    if (await tooManyStarts(c, deps, 'console-sign-in'))
      return errorPage(c, 429, 'Too many sign-ins', 'try again in a minute');
    const { id, url } = await startOperatorSignIn(oidc, safeNext(c.req.query('next')));
    setUpstreamSignInCookie(c, deps, id, OPERATOR_SIGN_IN_TTL_SEC);
    return c.redirect(url, 303);
  });

  // The provider sends the browser back here (a top-level GET, so the Lax cookie comes along).
  app.get('/callback', async (c) => {
    const oidc = deps.console.oidc;
    if (!oidc) return notConfigured(c);
    const id = takeUpstreamSignInCookie(c, deps);
    // The answer as the provider addressed it (the registered URI), whatever host the request names.
    const answer = new URL(`${oidc.callbackUri}${new URL(c.req.url).search}`);
    const { operator, groups, next } = await finishOperatorSignIn(oidc, id, answer);
    await startSession(c, deps, operator, groups);
    deps.log.info({ operator: operator.id, roles: operator.roles }, 'console sign-in');
    return c.redirect(next, 303);
  });
}
