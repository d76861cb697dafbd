// RFC 8693 helpers for tests: the grant and token type URIs, a JWT's claims, oauth4webapi's view of a broker.
import * as oauth from 'oauth4webapi';

export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TT = {
  access: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  id: 'urn:ietf:params:oauth:token-type:id_token',
} as const;
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A JWT's payload, unverified. */
export const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<
    string,
    unknown
  >;

/** The broker's metadata as oauth4webapi reads it (http allowed). */
export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(
    url,
    await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...insecure }),
  );
}
