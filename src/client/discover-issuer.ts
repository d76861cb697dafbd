// RFC 8414 discovery of a Mandate issuer, shared by the agent SDK and the resource guard.
import * as oauth from 'oauth4webapi';

/** The fetch the SDK calls; the global one unless a caller injects another (tests, proxies). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Transport options every oauth4webapi call of one issuer shares. */
export interface IssuerHttpOptions {
  [oauth.customFetch]?: (
    url: string,
    init: oauth.CustomFetchOptions<string, unknown>,
  ) => Promise<Response>;
  [oauth.allowInsecureRequests]?: boolean;
}

/** What discovery yields: the validated metadata and how to talk to the issuer. */
export interface DiscoveredIssuer {
  readonly as: oauth.AuthorizationServer;
  readonly http: IssuerHttpOptions;
}

/**
 * Transport options for `issuer`: plain http is allowed only when the issuer itself is http
 * (a broker on localhost in development and tests), never silently for an https issuer.
 */
export function issuerHttpOptions(issuer: URL, fetchImpl?: FetchLike): IssuerHttpOptions {
  const http: IssuerHttpOptions = {};
  if (fetchImpl) http[oauth.customFetch] = (url, init) => fetchImpl(url, init as RequestInit);
  if (issuer.protocol === 'http:') http[oauth.allowInsecureRequests] = true;
  return http;
}

/**
 * Fetches `/.well-known/oauth-authorization-server` of `issuer` and checks that the metadata
 * names the same issuer (RFC 8414 section 3.3), so a token endpoint cannot be swapped in.
 */
export async function discoverIssuer(
  issuer: string | URL,
  fetchImpl?: FetchLike,
): Promise<DiscoveredIssuer> {
  const url = new URL(issuer);
  const http = issuerHttpOptions(url, fetchImpl);
  const response = await oauth.discoveryRequest(url, { ...http, algorithm: 'oauth2' });
  const as = await oauth.processDiscoveryResponse(url, response);
  return { as, http };
}
