// GET /oauth/authorize (OAuth 2.1 code + PKCE), the upstream sign-in's callback, and the consent page: HTML for the person, redirects for the client.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import {
  PENDING_TTL_SEC,
  type PendingAuthorization,
  readAuthorizationParams,
  readClientTarget,
} from '../../domain/authorization-request.ts';
import { OAuthError, ProblemError, StoreUnavailable } from '../../domain/errors.ts';
import {
  answerConsent,
  finishSignIn,
  pendingOf,
  redirectWith,
  startAuthorization,
  trustedTarget,
  withDefaultIntent,
} from '../../services/authorize.ts';
import { parseIntent } from '../../services/parse-intent.ts';
import { readForm } from '../console/form.ts';
import { clientIp, type HttpDeps } from '../http-deps.ts';
import { NO_AUTH } from '../openapi.ts';
import { tooManyStarts } from '../start-limit.ts';
import { authorizeErrorPage, consentPage } from './consent-page.tsx';

/** The query of GET /oauth/authorize, as documented (the route reads it itself: errors go to the page or the redirect). */
const AuthorizeQuerySchema = z.object({
  response_type: z.literal('code'),
  client_id: z
    .string()
    .describe('a registered agent client, or an https URL of a Client ID Metadata Document'),
  redirect_uri: z.string().describe('exactly as registered (a loopback http URI: any port)'),
  code_challenge: z.string().describe('PKCE (RFC 7636): base64url SHA-256 of the verifier'),
  code_challenge_method: z.literal('S256'),
  state: z.string().describe('returned unchanged with the code or the error'),
  resource: z.string().describe('RFC 8707: the resource (e.g. an MCP server URI); may repeat'),
  scope: z
    .string()
    .optional()
    .describe('space-separated actions (MCP tools: `tools:<name>` or `<name>`)'),
  authorization_details: z.string().optional().describe('RFC 9396 agent_task entries as JSON'),
});

const html = (description: string, example = '<!DOCTYPE html><html lang="en">…</html>') => ({
  description,
  content: { 'text/html': { schema: z.string(), example } },
});

const authorizeRoute = createRoute({
  method: 'get',
  path: '/authorize',
  tags: ['OAuth'],
  summary: 'Authorization code request (OAuth 2.1, PKCE S256)',
  description:
    'Checks the client and its redirect_uri (an error before they are trusted is an HTML page, never a redirect), then the rest of the request (errors redirect with `error`, `state`, `iss`), keeps it server-side and sends the person to sign in at the upstream OpenID Provider (config `login.oidc`). After sign-in, policy decides the request for this person and client and the consent page shows the result; approving redirects with `code`, `state` and `iss` (RFC 9207), denying with `error=access_denied`.',
  security: NO_AUTH,
  parameters: [],
  responses: {
    303: { description: 'to the upstream sign-in, or back to the client with an error' },
    400: html('the client or redirect_uri is unknown or does not match: nothing is redirected'),
  },
});

const consentRoute = createRoute({
  method: 'post',
  path: '/consent',
  tags: ['OAuth'],
  summary: "The consent page's answer",
  description:
    'Form post of the consent page (`csrf` synchronizer token, `decision` = approve | deny), from the browser that signed in; used once.',
  security: NO_AUTH,
  responses: {
    303: { description: 'back to the client with `code` or `error=access_denied`, `state`, `iss`' },
    403: html('the form token is missing or wrong, or the request ended: nothing is issued'),
  },
});

const callbackRoute = createRoute({
  method: 'get',
  path: '/callback',
  tags: ['OAuth'],
  summary: 'Back from the upstream sign-in',
  description:
    "The upstream OpenID Provider's redirect (Mandate is its relying party): checks `state`, redeems the code with PKCE, checks the ID token, and has policy decide the pending request for the person; then on to the consent page. Errors go back to the client's redirect_uri.",
  security: NO_AUTH,
  responses: {
    303: { description: 'to the consent page, or back to the client with an error' },
    400: html('no pending request in this browser (expired or never started)'),
  },
});

const consentPageRoute = createRoute({
  method: 'get',
  path: '/consent',
  tags: ['OAuth'],
  summary: 'The consent page',
  description:
    "Server-rendered: the client's name and redirect host, who signed in, each action it would get, what policy refused and what needs an approver (left out of the grant).",
  security: NO_AUTH,
  responses: {
    200: html('the consent page, with its form'),
    400: html('no signed-in pending request in this browser'),
  },
});

const ConsentFormSchema = z
  .object({ csrf: z.string().max(128).optional(), decision: z.enum(['approve', 'deny']) })
  .strict();

/** The cookie holding the pending request's id (HttpOnly; `__Host-` and Secure on an https issuer). */
function cookieName(deps: HttpDeps): string {
  return deps.broker.settings.issuer.startsWith('https:')
    ? '__Host-mandate_authz'
    : 'mandate_authz';
}

/** An error of a step whose redirect is not (or no longer) to be trusted: shown, never redirected. */
function shown(c: Context, deps: HttpDeps, err: unknown): Response | Promise<Response> {
  // What the page does not say (e.g. the address a metadata document's host resolved to) is logged.
  if (err instanceof OAuthError && err.cause instanceof Error)
    deps.broker.log.info(
      { error: err.code, detail: err.cause.message },
      'authorization request refused',
    );
  // A page is no place for 401 (no credentials are asked for here): invalid_client shows as 400.
  if (err instanceof OAuthError)
    return authorizeErrorPage(
      c,
      err.status >= 500 ? (err.status as ContentfulStatusCode) : 400,
      err.code,
      err.message,
    );
  if (err instanceof ProblemError)
    return authorizeErrorPage(
      c,
      err.status as ContentfulStatusCode,
      'invalid_request',
      err.message,
    );
  if (err instanceof StoreUnavailable)
    return authorizeErrorPage(c, 503, 'temporarily_unavailable', 'try again shortly');
  deps.log.error({ err, path: c.req.path }, 'unexpected error in the authorization flow');
  return authorizeErrorPage(c, 500, 'server_error', 'internal error');
}

/** An error once the redirect is trusted: back to the client with `error`, `state`, `iss`. */
function redirected(
  c: Context,
  deps: HttpDeps,
  to: { redirect_uri: string; state?: string | undefined },
  err: unknown,
): Response | Promise<Response> {
  if (!(err instanceof OAuthError) && !(err instanceof StoreUnavailable))
    return shown(c, deps, err);
  const e = err instanceof OAuthError ? err : new OAuthError('temporarily_unavailable');
  // invalid_client after the redirect was trusted (e.g. a client disabled meanwhile) is access_denied to the client.
  const code = e.code === 'invalid_client' ? 'access_denied' : e.code;
  return c.redirect(redirectWith(deps, to, { error: code, error_description: e.message }), 303);
}

/** Registers the authorization endpoint, the upstream callback and the consent page on the OAuth sub-app. */
export function registerAuthorize(app: OpenAPIHono, deps: HttpDeps): void {
  const flow = deps.authorization;
  app.openapi(
    { ...authorizeRoute, parameters: authorizeParameters() },
    async function authorize(c) {
      if (!flow) return authorizeErrorPage(c, 400, 'unsupported_response_type', 'not enabled');
      const values = (name: string) => c.req.queries(name) ?? [];
      try {
        // Counted first: resolving the client may fetch its metadata document.
        if (await tooManyStarts(c, deps, 'authorize'))
          throw new OAuthError(
            'temporarily_unavailable',
            'too many authorization requests from this address; try again in a minute',
          );
        const target = readClientTarget(values);
        const client = await trustedTarget(flow, target);
        const to = { redirect_uri: target.redirectUri, state: values('state')[0] };
        try {
          const params = await withDefaultIntent(flow, readAuthorizationParams(values));
          // The intent is checked now, so a malformed one goes back to the client at once.
          parseIntent(
            {
              authorizationDetails: params.authorizationDetails,
              resources: params.resources,
              scope: params.scope,
            },
            deps.broker.settings.intentLimits,
          );
          const { pendingId, signInUrl } = await startAuthorization(flow, client, target, params);
          setCookie(c, cookieName(deps), pendingId, cookieOptions(deps));
          return c.redirect(signInUrl, 303);
        } catch (err) {
          return redirected(c, deps, to, err);
        }
      } catch (err) {
        return shown(c, deps, err);
      }
    },
  );

  // The upstream provider sends the person back here (a top-level GET, so the Lax cookie comes along).
  app.openapi(callbackRoute, async function callback(c) {
    if (!flow) return authorizeErrorPage(c, 404, 'invalid_request', 'not enabled');
    const pendingId = getCookie(c, cookieName(deps));
    let pending: PendingAuthorization;
    try {
      pending = await pendingOf(flow, pendingId);
    } catch (err) {
      return shown(c, deps, err);
    }
    try {
      const url = new URL(c.req.url);
      const upstream = new URL(`${deps.broker.settings.issuer}/oauth/callback${url.search}`);
      if (upstream.searchParams.has('error'))
        throw new OAuthError('access_denied', 'sign-in was cancelled');
      await finishSignIn(flow, pendingId as string, pending, upstream, clientIp(c, deps));
      return c.redirect('/oauth/consent', 303);
    } catch (err) {
      await flow.store.takePending(pendingId as string).catch(() => undefined);
      return redirected(c, deps, pending, err);
    }
  });

  app.openapi(consentPageRoute, async function consentForm(c) {
    if (!flow) return authorizeErrorPage(c, 404, 'invalid_request', 'not enabled');
    try {
      const pending = await pendingOf(flow, getCookie(c, cookieName(deps)));
      if (!pending.person) throw new OAuthError('invalid_request', 'sign in first');
      const client = await deps.broker.clients.get(pending.client_id);
      return consentPage(c, {
        clientName: client?.name ?? pending.client_id,
        clientId: pending.client_id,
        pending,
      });
    } catch (err) {
      return shown(c, deps, err);
    }
  });

  app.openapi(consentRoute, async function consent(c) {
    if (!flow) return authorizeErrorPage(c, 404, 'invalid_request', 'not enabled');
    try {
      const origin = c.req.header('origin');
      if (origin !== undefined && origin !== new URL(deps.broker.settings.issuer).origin)
        throw new ProblemError(
          403,
          'Cross-site request refused',
          'the form was posted from elsewhere',
        );
      const form = await readForm(c, ConsentFormSchema);
      if (!form.csrf)
        throw new ProblemError(403, 'Form expired', 'the consent form token is missing');
      const pendingId = getCookie(c, cookieName(deps));
      const to = await answerConsent(flow, pendingId, form.csrf, form.decision === 'approve');
      deleteCookie(c, cookieName(deps), { path: '/', secure: cookieOptions(deps).secure });
      return c.redirect(to, 303);
    } catch (err) {
      return shown(c, deps, err);
    }
  });
}

function cookieOptions(deps: HttpDeps) {
  return {
    path: '/',
    httpOnly: true,
    secure: deps.broker.settings.issuer.startsWith('https:'),
    sameSite: 'Lax' as const,
    maxAge: PENDING_TTL_SEC,
  };
}

function authorizeParameters() {
  return Object.entries(AuthorizeQuerySchema.shape).map(([name, s]) => ({
    name,
    in: 'query' as const,
    required: !s.safeParse(undefined).success,
    schema: { type: 'string' as const },
    ...(s.description ? { description: s.description } : {}),
  }));
}
