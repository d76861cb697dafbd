// Console sessions: the cookie (a random id only), the session read on every page, sign-in and sign-out, and the forms' CSRF token.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Hono, Next } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ProblemError } from '../../domain/errors.ts';
import type { Operator } from '../../domain/operator.ts';
import type { OperatorSession } from '../../domain/operator-session.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { ConsoleSettings, HttpDeps } from '../http-deps.ts';
import { liveOperator } from './operator.ts';

export type ConsoleEnv = {
  Variables: { session: OperatorSession; sessionId: string };
};

/** The console sub-app: every route past sign-in sees the session. */
export type ConsoleApp = Hono<ConsoleEnv>;

export type ConsoleDeps = HttpDeps & { readonly console: ConsoleSettings };

/** Secure cookies (and the `__Host-` prefix, which binds them to this host and path /) when the issuer is https. */
export function cookieSecure(deps: Pick<HttpDeps, 'broker'>): boolean {
  return deps.broker.settings.issuer.startsWith('https:');
}

const cookieName = (deps: Pick<HttpDeps, 'broker'>, name: string) =>
  `${cookieSecure(deps) ? '__Host-' : ''}${name}`;

/** The session cookie's name. */
export const sessionCookieName = (deps: Pick<HttpDeps, 'broker'>) =>
  cookieName(deps, 'mandate_console');

/** The sign-in form's own cookie: a token the form repeats, so no other site can sign a browser in. */
const signInCookieName = (deps: Pick<HttpDeps, 'broker'>) =>
  cookieName(deps, 'mandate_console_signin');

/** The upstream sign-in's cookie: the id of the pending sign-in (its state, nonce and verifier stay in Redis). */
const upstreamSignInCookieName = (deps: Pick<HttpDeps, 'broker'>) =>
  cookieName(deps, 'mandate_console_oidc');

const randomToken = () => randomBytes(32).toString('base64url');

/** Equal without a timing difference (both sides hashed first, so lengths match). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}

function cookieOptions(deps: Pick<HttpDeps, 'broker'>, maxAgeSec: number) {
  return {
    path: '/',
    httpOnly: true,
    secure: cookieSecure(deps),
    sameSite: 'Lax' as const,
    maxAge: maxAgeSec,
  };
}

/** A fresh token for the sign-in form, also set as its cookie (10 minutes). */
export function issueSignInToken(c: Context, deps: ConsoleDeps): string {
  const token = randomToken();
  setCookie(c, signInCookieName(deps), token, { ...cookieOptions(deps, 600), sameSite: 'Strict' });
  return token;
}

/** True when the sign-in form's token matches its cookie. */
export function signInTokenMatches(c: Context, deps: ConsoleDeps, presented: string): boolean {
  const expected = getCookie(c, signInCookieName(deps));
  return expected !== undefined && presented.length > 0 && sameSecret(expected, presented);
}

/**
 * Binds a started upstream sign-in to this browser. Lax, not Strict: the provider's redirect
 * back is a cross-site top-level GET, which Lax cookies accompany.
 */
export function setUpstreamSignInCookie(c: Context, deps: ConsoleDeps, id: string, ttlSec: number) {
  setCookie(c, upstreamSignInCookieName(deps), id, cookieOptions(deps, ttlSec));
}

/** The pending upstream sign-in's id from the cookie, which is cleared: a callback is used once. */
export function takeUpstreamSignInCookie(c: Context, deps: ConsoleDeps): string | undefined {
  const id = getCookie(c, upstreamSignInCookieName(deps));
  if (id !== undefined)
    deleteCookie(c, upstreamSignInCookieName(deps), { path: '/', secure: cookieSecure(deps) });
  return id;
}

/** Starts a new session for the operator (never reusing an id the browser held before). */
export async function startSession(
  c: Context,
  deps: ConsoleDeps,
  operator: Operator,
  groups?: readonly string[],
): Promise<void> {
  const nowSec = nowSecOf(deps.broker);
  const id = randomToken();
  const { sessionTtlSec, idleTtlSec } = deps.console;
  await deps.console.sessions.create(
    id,
    {
      operator,
      ...(groups ? { groups } : {}),
      csrf: randomToken(),
      created_at: nowSec,
      expires_at: nowSec + sessionTtlSec,
    },
    idleTtlSec,
  );
  deleteCookie(c, signInCookieName(deps), { path: '/', secure: cookieSecure(deps) });
  setCookie(c, sessionCookieName(deps), id, cookieOptions(deps, sessionTtlSec));
}

/** Ends the session in the store (every process refuses it from now on) and clears the cookie. */
export async function endSession(c: Context<ConsoleEnv>, deps: ConsoleDeps): Promise<void> {
  await deps.console.sessions.delete(c.var.sessionId);
  deleteCookie(c, sessionCookieName(deps), { path: '/', secure: cookieSecure(deps) });
}

/**
 * Every console page but sign-in: the session from the cookie, or a redirect to sign-in (a
 * page) or 403 (a form post, whose session ended).
 */
export function requireSession(deps: ConsoleDeps) {
  return async function consoleSession(c: Context<ConsoleEnv>, next: Next) {
    const id = getCookie(c, sessionCookieName(deps));
    const session =
      id && id.length <= 128
        ? await deps.console.sessions.touch(id, deps.console.idleTtlSec, nowSecOf(deps.broker))
        : undefined;
    if (id && session) {
      // Revoking (or the expiry of) the operator's token ends the session too.
      const operator = await liveOperator(deps, session);
      if (operator) {
        c.set('session', { ...session, operator });
        c.set('sessionId', id);
        return next();
      }
      await deps.console.sessions.delete(id);
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      const back = encodeURIComponent(c.req.path + new URL(c.req.url).search);
      return c.redirect(`/console/sign-in?next=${back}`, 303);
    }
    throw new ProblemError(403, 'Signed out', 'your session ended: sign in again');
  };
}

/**
 * A state-changing post: it must come from our own origin (when the browser says where from)
 * and carry the session's synchronizer token in its form. Refused with 403 otherwise, before
 * anything changes.
 */
export function checkCsrf(c: Context<ConsoleEnv>, deps: HttpDeps, presented: unknown): void {
  const origin = c.req.header('origin');
  if (origin !== undefined && origin !== new URL(deps.broker.settings.issuer).origin)
    throw new ProblemError(403, 'Cross-site request refused', 'the form was posted from elsewhere');
  if (typeof presented !== 'string' || !sameSecret(presented, c.var.session.csrf))
    throw new ProblemError(403, 'Form expired', 'reload the page and try again');
}
