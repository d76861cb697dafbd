// RFC 7662 introspection at Mandate by a resource client: is this token live right now?
import * as oauth from 'oauth4webapi';
import type { DiscoveredIssuer } from './discover-issuer.ts';
import type { ResourceCredentials } from './resource-credentials.ts';

/**
 * Asks Mandate about one token: its introspection answer when active, undefined when not (revoked,
 * its grant ended or suspended, expired, for another audience, or Mandate's store down). Throws when
 * Mandate cannot be asked or answers out of protocol, so a caller fails closed.
 */
export type TokenIntrospection = (
  issuer: DiscoveredIssuer,
  token: string,
) => Promise<oauth.IntrospectionResponse | undefined>;

/** Creates the introspection of one resource client (its credentials authenticate each call). */
export function createTokenIntrospection(options: {
  readonly clientId: string;
  readonly credentials: ResourceCredentials;
  readonly timeoutMs: number;
}): TokenIntrospection {
  const { credentials, timeoutMs } = options;
  const client: oauth.Client = { client_id: options.clientId };
  return async function introspect(d, token) {
    const response = await oauth.introspectionRequest(d.as, client, credentials.clientAuth, token, {
      ...d.http,
      signal: AbortSignal.timeout(timeoutMs),
      additionalParameters: { token_type_hint: 'access_token' },
    });
    const result = await oauth.processIntrospectionResponse(d.as, client, response);
    return result.active === true ? result : undefined;
  };
}
