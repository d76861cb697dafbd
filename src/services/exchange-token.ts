// RFC 8693 token exchange: an agent acting for a person (a trusted issuer's JWT) or for another agent (a live Mandate token).
import { type AccessTokenClaims, InvalidToken } from '../domain/access-token.ts';
import type { Client } from '../domain/client.ts';
import { decodeCompactJwt } from '../domain/client-assertion.ts';
import {
  actDepth,
  groupsClaim,
  ID_JAG_TYP,
  mayAct,
  nestAct,
  personSubject,
  TOKEN_EXCHANGE_GRANT_TYPE,
  TOKEN_TYPES,
} from '../domain/delegation.ts';
import { OAuthError } from '../domain/errors.ts';
import { isGrantLive } from '../domain/grant.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { verifyIssuerToken } from './authenticate-assertion.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { type DelegatedMint, type MintRequest, mintToken } from './mint-token.ts';

export interface ExchangeRequest extends Omit<MintRequest, 'delegated' | 'workload'> {
  readonly subjectToken: string | undefined;
  readonly subjectTokenType: string | undefined;
  readonly actorToken: string | undefined;
  readonly actorTokenType: string | undefined;
  readonly requestedTokenType: string | undefined;
}

/** The answer of a token exchange: a token response with RFC 8693 2.2.1's `issued_token_type`. */
export type ExchangeResponse = TokenResponse & { issued_token_type: string };

const PERSON_TOKEN_TYPES: ReadonlySet<string> = new Set([TOKEN_TYPES.jwt, TOKEN_TYPES.idToken]);

/**
 * Issues a token for `client` acting for the subject token's subject. A person's JWT from a
 * trusted issuer starts a chain (`sub` the person, `act: {sub: client}`); a live Mandate access
 * token hands part of its grant on (a child grant: its pairs within the parent's, its deadline no
 * later, `act` nesting the chain). Policy decides with `context.delegated` (and
 * `context.on_behalf_of` for a person). Refusals are RFC 8693 2.2.2 errors; nothing is stored.
 */
export async function exchangeToken(
  broker: Broker,
  client: Client,
  req: ExchangeRequest,
): Promise<ExchangeResponse> {
  if (client.kind !== 'agent')
    throw new OAuthError('unauthorized_client', 'only agent clients may exchange tokens');
  if (!req.subjectToken) throw new OAuthError('invalid_request', 'subject_token is required');
  if (!req.subjectTokenType)
    throw new OAuthError('invalid_request', 'subject_token_type is required');
  if (req.requestedTokenType !== undefined && req.requestedTokenType !== TOKEN_TYPES.accessToken) {
    throw new OAuthError(
      'invalid_request',
      `requested_token_type must be ${TOKEN_TYPES.accessToken}`,
    );
  }
  // The authenticated client is the actor; an actor_token may only say the same.
  if ((req.actorToken === undefined) !== (req.actorTokenType === undefined))
    throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together');
  if (req.actorToken !== undefined) await checkActorToken(broker, client, req);

  let delegated: DelegatedMint;
  if (req.subjectTokenType === TOKEN_TYPES.accessToken) {
    delegated = await fromAgentToken(broker, client, req.subjectToken);
  } else if (PERSON_TOKEN_TYPES.has(req.subjectTokenType)) {
    delegated = await fromPersonToken(broker, client, req.subjectToken);
  } else {
    throw new OAuthError(
      'invalid_request',
      'subject_token_type must be an access_token, jwt or id_token token type URI',
    );
  }
  const response = await mintToken(broker, client, { ...req, delegated });
  return { ...response, issued_token_type: TOKEN_TYPES.accessToken };
}

/** A person's token of a trusted issuer: the grant acts for them. */
async function fromPersonToken(
  broker: Broker,
  client: Client,
  token: string,
): Promise<DelegatedMint> {
  // An ID-JAG is meant for the jwt-bearer grant only (its own audience and checks).
  if (decodeCompactJwt(token)?.header.typ === ID_JAG_TYP)
    throw new OAuthError('invalid_grant', 'an ID-JAG goes to the jwt-bearer grant');
  const person = await verifyIssuerToken(broker, token, { what: 'subject_token' });
  return personDelegation(client, person, TOKEN_EXCHANGE_GRANT_TYPE);
}

/**
 * The delegation of a grant acting for a verified person: `may_act`, when present, must name the
 * agent; `sub` is `<issuer>|<sub>`, `act` the agent.
 */
export function personDelegation(
  client: Client,
  person: {
    entry: { issuer: string };
    subject: string;
    payload: Readonly<Record<string, unknown>>;
  },
  grantType: string,
): DelegatedMint {
  if (!mayAct(person.payload, client.client_id))
    throw new OAuthError('invalid_grant', "the subject token's may_act does not name this client");
  const issuer = person.entry.issuer;
  return {
    grantType,
    delegation: {
      subject: personSubject(issuer, person.subject),
      act: nestAct(client.client_id, undefined),
    },
    onBehalfOf: { issuer, sub: person.subject, groups: groupsClaim(person.payload) },
  };
}

/** A live Mandate access token: the new grant is its grant's child. */
async function fromAgentToken(
  broker: Broker,
  client: Client,
  token: string,
): Promise<DelegatedMint> {
  const claims = await verifiedOwnToken(broker, token);
  const parent = await broker.grants.get(claims.grant_id);
  const nowSec = nowSecOf(broker);
  if (!parent || parent.client_id !== claims.client_id || !isGrantLive(parent, nowSec))
    throw deadSubject();
  const check = await broker.grants.check(parent.id, claims.jti);
  if (!check || check.jtiRevoked) throw deadSubject();
  const prior = parent.delegation?.act;
  if (actDepth(prior) + 1 > broker.settings.maxDelegationDepth) {
    throw new OAuthError(
      'invalid_request',
      `delegation would nest more than ${broker.settings.maxDelegationDepth} act levels (delegation.max_depth)`,
    );
  }
  return {
    grantType: TOKEN_EXCHANGE_GRANT_TYPE,
    delegation: {
      subject: parent.delegation?.subject ?? parent.client_id,
      act: nestAct(client.client_id, prior),
      parent: parent.id,
    },
    onBehalfOf: parent.context.on_behalf_of,
    parentGranted: parent.granted,
    notAfter: parent.expires_at,
    subjectJkt: claims.cnf?.jkt,
  };
}

const deadSubject = () =>
  new OAuthError('invalid_grant', 'subject_token is invalid, expired or revoked');

/** A token Mandate signed (signature, type, issuer, times); anything else is invalid_grant. */
async function verifiedOwnToken(broker: Broker, token: string): Promise<AccessTokenClaims> {
  try {
    return await broker.verifier.verify(token);
  } catch (err) {
    if (err instanceof InvalidToken) {
      broker.log.info({ reason: err.reason }, 'subject token refused');
      throw deadSubject();
    }
    throw err;
  }
}

/**
 * RFC 8693 `actor_token`: Mandate takes the authenticated client as the actor, so an actor token
 * must be a live Mandate access token of that same client.
 */
async function checkActorToken(broker: Broker, client: Client, req: ExchangeRequest) {
  if (req.actorTokenType !== TOKEN_TYPES.accessToken)
    throw new OAuthError('invalid_request', `actor_token_type must be ${TOKEN_TYPES.accessToken}`);
  let claims: AccessTokenClaims;
  try {
    claims = await broker.verifier.verify(req.actorToken as string);
  } catch (err) {
    if (err instanceof InvalidToken)
      throw new OAuthError('invalid_grant', 'actor_token is invalid or expired');
    throw err;
  }
  if (claims.client_id !== client.client_id)
    throw new OAuthError('invalid_grant', "actor_token is not the authenticated client's");
}
