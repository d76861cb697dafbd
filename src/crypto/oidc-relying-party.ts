// Mandate as the relying party of an upstream OpenID Provider (config login.oidc), through oauth4webapi: code + PKCE + nonce + state, ID token checked.
import * as oauth from 'oauth4webapi';
import type { SignedInPerson } from '../domain/authorization-request.ts';
import type { PersonSignIn } from '../domain/authorization-store.ts';
import { isLoopbackHost } from '../domain/client.ts';
import { OAuthError } from '../domain/errors.ts';

export interface OidcRelyingPartyOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Scopes asked upstream (`openid` always among them). */
  readonly scopes: readonly string[];
  /** The ID token claim that lists the person's groups. */
  readonly groupsClaim: string;
  /** Longest one upstream call may take (ms). */
  readonly timeoutMs: number;
}

/** A failed sign-in: the person sees access_denied; the cause goes to the log, not to them. */
class SignInFailed extends OAuthError {
  constructor(readonly reason: string) {
    super('access_denied', 'sign-in at the identity provider failed');
  }
}

/**
 * The provider's metadata is discovered on first use and kept (a failed discovery is tried again
 * on the next sign-in). Plain http is allowed only to a loopback issuer (tests, local IdPs).
 */
export function createOidcRelyingParty(opts: OidcRelyingPartyOptions): PersonSignIn {
  const issuerUrl = new URL(opts.issuer);
  const insecure = issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname);
  const http = {
    [oauth.allowInsecureRequests]: insecure,
    signal: () => AbortSignal.timeout(opts.timeoutMs),
  };
  const client: oauth.Client = { client_id: opts.clientId };
  const auth = oauth.ClientSecretBasic(opts.clientSecret);
  const jwks = {};
  let discovered: Promise<oauth.AuthorizationServer> | undefined;
  const server = () => {
    discovered ??= oauth
      .discoveryRequest(issuerUrl, { ...http, algorithm: 'oidc' })
      .then((res) => oauth.processDiscoveryResponse(issuerUrl, res))
      .catch((err: unknown) => {
        discovered = undefined;
        throw new SignInFailed(`discovery: ${String(err)}`);
      });
    return discovered;
  };
  return {
    async authorizationUrl(login, redirectUri) {
      const as = await server();
      if (!as.authorization_endpoint) throw new SignInFailed('no authorization_endpoint');
      const url = new URL(as.authorization_endpoint);
      url.search = new URLSearchParams({
        client_id: opts.clientId,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: [...new Set(['openid', ...opts.scopes])].join(' '),
        state: login.state,
        nonce: login.nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(login.verifier),
        code_challenge_method: 'S256',
      }).toString();
      return url.href;
    },
    async finish(callbackUrl, login, redirectUri) {
      const as = await server();
      try {
        const params = oauth.validateAuthResponse(as, client, callbackUrl, login.state);
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          auth,
          params,
          redirectUri,
          login.verifier,
          http,
        );
        const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: login.nonce,
          requireIdToken: true,
        });
        // The ID token came over the token endpoint's TLS; its signature is checked all the same.
        await oauth.validateApplicationLevelSignature(as, response, {
          ...http,
          [oauth.jwksCache]: jwks,
        });
        const claims = oauth.getValidatedIdTokenClaims(result);
        if (!claims) throw new SignInFailed('no id_token');
        return personOf(claims, as.issuer, opts.groupsClaim);
      } catch (err) {
        if (err instanceof OAuthError) throw err;
        throw new SignInFailed(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      }
    },
  };
}

function personOf(claims: oauth.IDToken, issuer: string, groupsClaim: string): SignedInPerson {
  const raw = claims[groupsClaim];
  const groups = Array.isArray(raw)
    ? raw.filter((g): g is string => typeof g === 'string').slice(0, 64)
    : [];
  const name = [claims.name, claims.email, claims.preferred_username].find(
    (v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200,
  );
  return { issuer, sub: claims.sub, groups, ...(name ? { name } : {}) };
}
