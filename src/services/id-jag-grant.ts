// The Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant): an IdP's ID-JAG for a person, as the jwt-bearer grant.
import type { Client } from '../domain/client.ts';
import { audienceList, JWT_BEARER_GRANT_TYPE } from '../domain/client-assertion.ts';
import { OAuthError } from '../domain/errors.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { verifyIssuerToken } from './authenticate-assertion.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { personDelegation } from './exchange-token.ts';
import { type MintRequest, mintToken } from './mint-token.ts';

/**
 * A token for the person an ID-JAG names, for the authenticated client acting for them: the
 * assertion comes from a trusted issuer, its `aud` is Mandate's issuer, its `client_id` the
 * client, its `resource` the locations the request may name (without authorization_details or
 * scope, its `scope` and `resource` are the request). Its `jti` is spent once. Refusals are
 * `invalid_grant` (`invalid_target` for a location it does not name).
 */
export async function idJagGrant(
  broker: Broker,
  client: Client,
  assertion: string,
  req: Omit<MintRequest, 'delegated' | 'workload'>,
): Promise<TokenResponse> {
  if (client.kind !== 'agent')
    throw new OAuthError('unauthorized_client', 'only agent clients may request tokens');
  const person = await verifyIssuerToken(broker, assertion, {
    audience: broker.settings.issuer,
    what: 'id_jag',
  });
  const { payload } = person;
  if (payload.client_id !== client.client_id)
    throw new OAuthError('invalid_grant', 'the assertion was issued to another client');
  const resources = audienceList(payload.resource);
  if (resources.length === 0)
    throw new OAuthError('invalid_grant', 'the assertion names no resource');
  const { jti, exp } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)
    throw new OAuthError('invalid_grant', 'the assertion has no jti');
  const delegated = {
    ...personDelegation(client, person, JWT_BEARER_GRANT_TYPE),
    allowedLocations: resources,
  };
  // Without an intent of its own, the request is what the assertion names.
  const bare = req.authorizationDetails === undefined && req.scope === undefined;
  const claimedScope = typeof payload.scope === 'string' ? payload.scope : undefined;
  const intent = bare ? { ...req, scope: claimedScope, resources } : req;
  const untilSec = Math.max(Number(exp), nowSecOf(broker) + 1) + broker.settings.clockToleranceSec;
  if (!(await broker.oneTimeUses.claim('id_jag', `${person.entry.issuer} ${jti}`, untilSec)))
    throw new OAuthError('invalid_grant', 'the assertion was used before');
  return mintToken(broker, client, { ...intent, delegated });
}
