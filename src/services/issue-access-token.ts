// Signs an access token for a grant: RFC 9068 claims, lifetime capped by config, client and grant.
import { randomBase64url } from '../crypto/random-id.ts';
import { type AccessTokenClaims, formatRefreshToken, jtiFor } from '../domain/access-token.ts';
import type { Client } from '../domain/client.ts';
import type { Grant } from '../domain/grant.ts';
import { type AgentTask, audienceOf, scopeOf } from '../domain/intent.ts';
import type { IssuedToken } from '../domain/ports.ts';
import { clampAccessTtl } from '../domain/ttl.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import type { Broker } from './broker.ts';

export interface SignedToken extends IssuedToken {
  readonly token: string;
  /** The token's digest, stored beside its jti (IssuedToken.digest). */
  readonly digest: string;
  readonly expiresIn: number;
  readonly scope: string;
  /** `DPoP` when the token carries `cnf.jkt` (RFC 9449 5), else `Bearer`. */
  readonly tokenType: TokenType;
}

export type TokenType = 'Bearer' | 'DPoP';

/** A token's claims, decided before it is signed. */
export interface PreparedToken extends Omit<SignedToken, 'token' | 'digest'> {
  readonly claims: AccessTokenClaims;
}

/**
 * A token's claims for a grant; with `jkt` it is bound to that DPoP key (`cnf.jkt`). A delegated
 * grant's tokens name its subject as `sub` and carry its `act` chain (RFC 8693 4.1).
 */
export function prepareAccessToken(
  broker: Pick<Broker, 'settings'>,
  client: Client,
  grant: Pick<Grant, 'id' | 'expires_at' | 'delegation'>,
  granted: AgentTask[],
  nowSec: number,
  jkt?: string,
): PreparedToken {
  const expiresIn = clampAccessTtl(grant.expires_at - nowSec, {
    defaultGrantTtlSec: broker.settings.grantTtlSec,
    maxGrantTtlSec: broker.settings.maxGrantTtlSec,
    accessTtlSec: broker.settings.accessTtlSec,
    clientMaxTokenTtlSec: client.max_token_ttl,
  });
  const jti = jtiFor(grant.id, randomBase64url(12));
  const scope = scopeOf(granted);
  const aud = audienceOf(granted);
  const claims: AccessTokenClaims = {
    iss: broker.settings.issuer,
    sub: grant.delegation?.subject ?? client.client_id,
    client_id: client.client_id,
    aud: aud.length === 1 ? (aud[0] as string) : aud,
    iat: nowSec,
    exp: nowSec + expiresIn,
    jti,
    grant_id: grant.id,
    scope,
    authorization_details: granted,
    ...(jkt ? { cnf: { jkt } } : {}),
    ...(grant.delegation ? { act: grant.delegation.act } : {}),
  };
  const tokenType = jkt ? 'DPoP' : 'Bearer';
  return { jti, exp: claims.exp, expiresIn, scope, tokenType, claims };
}

/**
 * Signs the token and digests it: the digest is stored with the grant's write (the grant's
 * create, a refresh's rotation), so the token is signed before that write is sent. Introspection
 * and evaluation then know it by its digest instead of checking its signature.
 */
export async function signAccessToken(
  broker: Pick<Broker, 'signer'>,
  prepared: PreparedToken,
): Promise<SignedToken> {
  const { claims, ...issued } = prepared;
  const token = await broker.signer.sign(claims);
  return { ...issued, token, digest: broker.signer.digestOf(token) };
}

export function issueAccessToken(
  broker: Pick<Broker, 'signer' | 'settings'>,
  client: Client,
  grant: Pick<Grant, 'id' | 'expires_at' | 'delegation'>,
  granted: AgentTask[],
  nowSec: number,
  jkt?: string,
): Promise<SignedToken> {
  return signAccessToken(broker, prepareAccessToken(broker, client, grant, granted, nowSec, jkt));
}

/** The token response for a grant's new access token, with the rotated refresh token when there is one. */
export function tokenResponse(
  access: SignedToken,
  granted: AgentTask[],
  grantId: string,
  refreshSecret?: string,
): TokenResponse {
  return {
    access_token: access.token,
    token_type: access.tokenType,
    expires_in: access.expiresIn,
    scope: access.scope,
    authorization_details: granted,
    ...(refreshSecret ? { refresh_token: formatRefreshToken(grantId, refreshSecret) } : {}),
    grant_id: grantId,
  };
}
