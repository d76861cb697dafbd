// POST /oauth/token: client_credentials with agent_task authorization_details, refresh_token, the CIBA poll, jwt-bearer (workload tokens, ID-JAG) and RFC 8693 token exchange; DPoP-bound on a proof.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { decodeCompactJwt, JWT_BEARER_GRANT_TYPE } from '../../domain/client-assertion.ts';
import { isClientIdUrl } from '../../domain/client-metadata.ts';
import { ID_JAG_TYP, TOKEN_EXCHANGE_GRANT_TYPE, TOKEN_TYPES } from '../../domain/delegation.ts';
import { OAuthError } from '../../domain/errors.ts';
import type { AgentTask } from '../../domain/intent.ts';
import { TokenResponseSchema } from '../../domain/wire/oauth.ts';
import { pollApproval } from '../../services/approvals.ts';
import { approvedIntentHandlers } from '../../services/approved-intents.ts';
import {
  type AssertedCaller,
  authenticateAssertion,
} from '../../services/authenticate-assertion.ts';
import { AUTHORIZATION_CODE_GRANT_TYPE } from '../../services/authorize.ts';
import { asksForCallerToken, issueCallerToken } from '../../services/caller-token.ts';
import { tokenRequestProof } from '../../services/dpop-binding.ts';
import { exchangeToken } from '../../services/exchange-token.ts';
import { idJagGrant } from '../../services/id-jag-grant.ts';
import { mintToken } from '../../services/mint-token.ts';
import { redeemCode } from '../../services/redeem-code.ts';
import { refreshToken } from '../../services/refresh-token.ts';
import {
  assertionAudiences,
  authenticateCaller,
  hasClientCredentials,
  refusalsCounted,
} from '../client-auth.ts';
import { clientIp, type HttpDeps } from '../http-deps.ts';
import { oauthJson } from '../oauth-response.ts';
import { CLIENT_AUTH, jsonReply, OAUTH_ERRORS, requestBody } from '../openapi.ts';
import { parseOAuthForm, readOAuthForm } from '../read-body.ts';
import { CLIENT_POST_FIELDS } from './client-post-fields.ts';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';
export const GRANT_TYPES = [
  AUTHORIZATION_CODE_GRANT_TYPE,
  'client_credentials',
  'refresh_token',
  CIBA_GRANT_TYPE,
  JWT_BEARER_GRANT_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
] as const;

const TOKEN_TYPE_URIS = `${TOKEN_TYPES.accessToken} (a live Mandate access token: hand part of its grant to this agent), ${TOKEN_TYPES.jwt} or ${TOKEN_TYPES.idToken} (a person's token from a trusted issuer)`;

/**
 * The form parameters of `POST /oauth/token`: what the route validates and what /openapi.json
 * documents. Lengths are left to the services, which answer with their own RFC codes.
 */
export const TokenRequestFormSchema = z
  .object({
    grant_type: z
      .enum(GRANT_TYPES)
      .describe(
        'authorization_code for the code /oauth/authorize sent back (a grant for the person who approved it), client_credentials for a new task, refresh_token for a new access token of the same grant, the OpenID CIBA poll, the RFC 7523 JWT bearer grant (a workload token of a trusted issuer, or an ID-JAG, as `assertion`), or RFC 8693 token exchange (act for a person or for another agent)',
      ),
    authorization_details: z
      .string()
      .optional()
      .describe(
        'RFC 9396 authorization_details as JSON: an array of agent_task entries, see the AuthorizationDetails schema (`x-decoded-schema`); required for client_credentials unless scope and resource are both given; with refresh_token it asks to widen the grant. At most limits.max_pairs_per_request (default 64) (action, location) pairs, and limits.max_pairs_per_grant (default 64), else invalid_authorization_details',
      )
      .meta({ 'x-decoded-schema': { $ref: '#/components/schemas/AuthorizationDetails' } }),
    resource: z
      .array(z.string())
      .optional()
      .describe('RFC 8707 resource indicator; may be repeated; narrows the locations asked for'),
    scope: z
      .string()
      .optional()
      .describe('space-separated actions; with resource, a shorthand for one agent_task entry'),
    refresh_token: z
      .string()
      .optional()
      .describe(
        'grant_type=refresh_token: the grant handle from the last token response (rotated on every use)',
      ),
    auth_req_id: z
      .string()
      .optional()
      .describe('CIBA poll: the auth_req_id of an approval_required answer'),
    code: z
      .string()
      .optional()
      .describe('authorization_code: the code from the redirect (single-use, 60 s)'),
    redirect_uri: z
      .string()
      .optional()
      .describe('authorization_code: exactly the redirect_uri of the authorization request'),
    code_verifier: z
      .string()
      .optional()
      .describe(
        'authorization_code: the PKCE verifier (RFC 7636) whose S256 digest was the code_challenge',
      ),
    assertion: z
      .string()
      .optional()
      .describe(
        'JWT bearer grant (RFC 7523 2.1): a workload token (Kubernetes service account, GitHub Actions OIDC, SPIFFE JWT-SVID) of a trusted issuer, client authentication then optional; or an ID-JAG (header typ oauth-id-jag+jwt, aud the issuer, client_id the authenticated client, resource naming the locations) for the person it names',
      ),
    subject_token: z
      .string()
      .optional()
      .describe('token exchange (RFC 8693 2.1): the token of whoever this agent acts for'),
    subject_token_type: z.string().optional().describe(`token exchange: ${TOKEN_TYPE_URIS}`),
    actor_token: z
      .string()
      .optional()
      .describe(
        'token exchange: optional; the actor is the authenticated client, so this may only be its own live access token',
      ),
    actor_token_type: z
      .string()
      .optional()
      .describe(`token exchange: with actor_token, ${TOKEN_TYPES.accessToken}`),
    requested_token_type: z
      .string()
      .optional()
      .describe(`token exchange: only ${TOKEN_TYPES.accessToken}`),
    ...CLIENT_POST_FIELDS,
  })
  .superRefine((f, ctx) => {
    if (f.grant_type === AUTHORIZATION_CODE_GRANT_TYPE && f.code === undefined)
      ctx.addIssue({ code: 'custom', path: ['code'], message: 'required' });
    if (f.grant_type === 'refresh_token' && f.refresh_token === undefined)
      ctx.addIssue({ code: 'custom', path: ['refresh_token'], message: 'required' });
    if (f.grant_type === CIBA_GRANT_TYPE && f.auth_req_id === undefined)
      ctx.addIssue({ code: 'custom', path: ['auth_req_id'], message: 'required' });
    if (f.grant_type === JWT_BEARER_GRANT_TYPE && f.assertion === undefined)
      ctx.addIssue({ code: 'custom', path: ['assertion'], message: 'required' });
  });
export type TokenRequestForm = z.infer<typeof TokenRequestFormSchema>;

const TASK: AgentTask = {
  type: 'agent_task',
  task_id: 'task-42',
  purpose: 'summarise the Q3 invoices',
  actions: ['read'],
  locations: ['https://files.example.com/invoices/'],
};

export const tokenRoute = createRoute({
  method: 'post',
  path: '/token',
  tags: ['OAuth'],
  summary: 'Get a task-bound token',
  description:
    "`authorization_code` (`code`, exact `redirect_uri`, PKCE `code_verifier`, optional `resource`) redeems a code from /oauth/authorize once, within 60 s, for a grant acting for the person who approved it (a second use is `invalid_grant` and revokes that grant); a public client (`token_endpoint_auth_method: none`) sends only `client_id`, here and on refresh. `client_credentials` with `agent_task` authorization_details: each (action, location) pair is decided by policy; the grant is created as asked, narrowed, or refused (`access_denied`), or needs a human (`approval_required` with `auth_req_id`). `refresh_token` re-evaluates policy before issuing a new token for the same grant. `urn:openid:params:grant-type:ciba` polls an approval (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`). `urn:ietf:params:oauth:grant-type:jwt-bearer` takes a trusted issuer's workload token as `assertion` (RFC 7523 2.1) with `authorization_details`; a refused assertion is `invalid_grant`; an assertion whose header `typ` is `oauth-id-jag+jwt` (an Identity Assertion JWT Authorization Grant) needs client authentication and issues a token for the person it names. `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693) issues a token acting for the `subject_token`'s subject: a person (a trusted issuer's JWT; `sub` the person, `act` this agent) or another agent (a live Mandate access token; a child grant within its grant and deadline, `act` nesting the chain, at most delegation.max_depth levels); the answer adds `issued_token_type`. Clients authenticate with HTTP Basic, client_secret_post, or a JWT `client_assertion` (private_key_jwt, or a workload token). A resource client asking `client_credentials` with `resource` = the issuer and no authorization_details gets a caller token for the AuthZEN and signals endpoints (no grant, no refresh token). Parameters may not be repeated (except `resource`). A `DPoP` header (RFC 9449 proof, `htu` = this endpoint) binds the token to its key (`token_type: DPoP`, `cnf.jkt`); a bad proof is `invalid_dpop_proof`, a missing or stale nonce (config `dpop.require_nonce`) `use_dpop_nonce` with a `DPoP-Nonce` header.",
  security: CLIENT_AUTH,
  responses: {
    200: jsonReply('token issued', TokenResponseSchema, {
      access_token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2ln',
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'read',
      authorization_details: [TASK],
      refresh_token: 'rt_8Jx2YqLw0mN5vB7cZ3kP',
      grant_id: 'g_01HZY3K9Q4W8',
    }),
    ...OAUTH_ERRORS,
  },
});

/** Registers `POST /oauth/token` on the OAuth sub-app (errors go to its RFC 6749 renderer). */
export function registerToken(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  const { broker } = deps;
  app.openapi(
    {
      ...tokenRoute,
      request: {
        body: requestBody(
          app,
          'TokenRequest',
          TokenRequestFormSchema,
          'application/x-www-form-urlencoded',
          {
            grant_type: 'client_credentials',
            authorization_details: JSON.stringify([TASK]),
          },
        ),
      },
      middleware: [rateLimit] as const,
    },
    async function token(c) {
      const form = await readOAuthForm(c);
      // The JWT bearer grant's assertion authenticates by itself; client credentials are optional there.
      const bare =
        form.get('grant_type') === JWT_BEARER_GRANT_TYPE &&
        !isIdJag(form.get('assertion')) &&
        !hasClientCredentials(c, form);
      // A public client names itself with client_id alone, for the code and refresh grants only.
      const grantType = form.get('grant_type');
      const allowPublic =
        grantType === AUTHORIZATION_CODE_GRANT_TYPE || grantType === 'refresh_token';
      const authenticated = bare
        ? undefined
        : await authenticateCaller(c, form, broker, { allowPublic });
      const params = parseOAuthForm(form, TokenRequestFormSchema, {
        grant_type: 'unsupported_grant_type',
      });
      // Public clients, and clients known only by their metadata document (which exist for the
      // people who signed in for them), take the code and refresh grants only.
      const limited = authenticated?.client;
      if (
        limited &&
        (limited.token_endpoint_auth_method === 'none' || isClientIdUrl(limited.client_id)) &&
        !allowPublic
      )
        throw new OAuthError(
          'unauthorized_client',
          'this client may use only the authorization code and refresh token grants',
        );
      const dpop = await tokenRequestProof(broker, c.req.header('dpop'));
      // A client that uses nonces gets the next one with every answer (RFC 9449 8.2): no extra round trip.
      if (broker.settings.dpop.requireNonce && dpop) c.header('DPoP-Nonce', broker.dpop.nonce());
      const ip = clientIp(c, deps);
      const mint = {
        authorizationDetails: params.authorization_details,
        resources: params.resource ?? [],
        scope: params.scope,
        ip,
        dpop,
      };
      if (params.grant_type === JWT_BEARER_GRANT_TYPE && !bare) {
        const { client } = authenticated as AssertedCaller;
        if (isIdJag(params.assertion)) {
          return oauthJson(
            c,
            await refusalsCounted(c, () =>
              idJagGrant(broker, client, params.assertion as string, mint),
            ),
          );
        }
      }
      if (params.grant_type === TOKEN_EXCHANGE_GRANT_TYPE) {
        const { client } = authenticated as AssertedCaller;
        return oauthJson(
          c,
          await exchangeToken(broker, client, {
            ...mint,
            subjectToken: params.subject_token,
            subjectTokenType: params.subject_token_type,
            actorToken: params.actor_token,
            actorTokenType: params.actor_token_type,
            requestedTokenType: params.requested_token_type,
          }),
        );
      }
      if (params.grant_type === JWT_BEARER_GRANT_TYPE) {
        const asserted = await refusalsCounted(c, () =>
          authenticateAssertion(broker, params.assertion as string, {
            audiences: assertionAudiences(c, broker),
            clientId: authenticated?.client.client_id ?? params.client_id,
            asGrant: true,
          }),
        );
        return oauthJson(
          c,
          await mintToken(broker, asserted.client, { ...mint, workload: asserted.workload }),
        );
      }
      const { client, workload } = authenticated as AssertedCaller;
      if (params.grant_type === AUTHORIZATION_CODE_GRANT_TYPE) {
        if (!deps.authorization)
          throw new OAuthError(
            'unsupported_grant_type',
            'the authorization code grant is not enabled',
          );
        return oauthJson(
          c,
          await redeemCode(broker, deps.authorization.store, client, {
            code: params.code,
            redirectUri: params.redirect_uri,
            codeVerifier: params.code_verifier,
            resources: params.resource ?? [],
            ip,
            dpop,
          }),
        );
      }
      if (params.grant_type === 'client_credentials') {
        if (asksForCallerToken(broker, client, mint))
          return oauthJson(c, await issueCallerToken(broker, client, params.scope));
        return oauthJson(c, await mintToken(broker, client, { ...mint, workload }));
      }
      if (params.grant_type === 'refresh_token') {
        return oauthJson(
          c,
          await refreshToken(broker, client, {
            refreshToken: params.refresh_token as string,
            ip,
            authorizationDetails: params.authorization_details,
            resources: params.resource ?? [],
            scope: params.scope,
            dpop,
          }),
        );
      }
      return oauthJson(
        c,
        await pollApproval(
          broker,
          client,
          params.auth_req_id,
          ip,
          approvedIntentHandlers(broker, ip),
          dpop,
        ),
      );
    },
  );
}

/** An Identity Assertion JWT Authorization Grant is told apart by its JOSE header's `typ`. */
function isIdJag(assertion: string | undefined): boolean {
  return assertion !== undefined && decodeCompactJwt(assertion)?.header.typ === ID_JAG_TYP;
}
