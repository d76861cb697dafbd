// A resource client's own token for Mandate's JSON API (AuthZEN, signals): how a client without a secret calls them.
import { randomBase64url } from '../crypto/random-id.ts';
import { CALLER_SCOPE, InvalidToken } from '../domain/access-token.ts';
import type { Client } from '../domain/client.ts';
import { OAuthError } from '../domain/errors.ts';
import { type Broker, nowSecOf } from './broker.ts';

/** The token response for a caller token: no grant, no refresh token (ask again with client_credentials). */
export interface CallerTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/**
 * True when a client_credentials request is a resource client asking for its caller token:
 * `resource` is Mandate's issuer alone and no authorization_details are sent.
 */
export function asksForCallerToken(
  broker: Pick<Broker, 'settings'>,
  client: Client,
  req: { authorizationDetails: string | undefined; resources: readonly string[] },
): boolean {
  return (
    client.kind === 'resource' &&
    req.authorizationDetails === undefined &&
    req.resources.length === 1 &&
    req.resources[0] === broker.settings.issuer
  );
}

/**
 * Issues a resource client a caller token: `aud` Mandate's issuer, `scope` mandate:resource, the
 * access token lifetime (the client's max_token_ttl when lower). It names no grant, so no resource
 * accepts it and introspection calls it inactive; disabling or deleting the client stops it at once.
 */
export async function issueCallerToken(
  broker: Broker,
  client: Client,
  scope: string | undefined,
): Promise<CallerTokenResponse> {
  if (scope !== undefined && scope !== CALLER_SCOPE)
    throw new OAuthError('invalid_scope', `a caller token's scope is ${CALLER_SCOPE}`);
  const nowSec = nowSecOf(broker);
  const expiresIn = Math.min(broker.settings.accessTtlSec, client.max_token_ttl ?? Infinity);
  const jti = `c_${randomBase64url(16)}`;
  const token = await broker.callerTokens.signCallerToken({
    iss: broker.settings.issuer,
    sub: client.client_id,
    client_id: client.client_id,
    aud: broker.settings.issuer,
    iat: nowSec,
    exp: nowSec + expiresIn,
    jti,
    scope: CALLER_SCOPE,
  });
  await broker.decisions.record({
    kind: 'mint',
    outcome: 'permit',
    reasons: ['resource_caller_token'],
    client_id: client.client_id,
    inputs: {
      request: { grant_type: 'client_credentials', resource: [broker.settings.issuer] },
      jti,
    },
  });
  broker.metrics.tokenMinted('client_credentials');
  return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope: CALLER_SCOPE };
}

/** The resource client a caller token belongs to; 401 invalid_client for anything else. */
export async function authenticateCallerToken(broker: Broker, token: string): Promise<Client> {
  let clientId: string;
  try {
    const claims = await broker.callerTokens.verifyCallerToken(token);
    if (claims.sub !== claims.client_id) throw new InvalidToken('bad_claims');
    clientId = claims.client_id;
  } catch (err) {
    if (err instanceof InvalidToken)
      throw new OAuthError('invalid_client', 'the bearer token is not a valid caller token');
    throw err;
  }
  const client = await broker.clients.get(clientId);
  if (!client || client.disabled || client.kind !== 'resource')
    throw new OAuthError('invalid_client', 'client authentication failed');
  return client;
}
