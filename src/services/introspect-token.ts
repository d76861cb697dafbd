// RFC 7662 introspection: active only when the token, its grant and the caller's audience all check out.
import {
  type AccessTokenClaims,
  audiences,
  InvalidToken,
  type TokenRejection,
} from '../domain/access-token.ts';
import { type Client, servesAudience } from '../domain/client.ts';
import { OAuthError, StoreUnavailable } from '../domain/errors.ts';
import { isGrantLive } from '../domain/grant.ts';
import type { GrantCheck, InspectedToken } from '../domain/ports.ts';
import type { IntrospectionResponse } from '../domain/wire/oauth.ts';
import { type Broker, nowSecOf } from './broker.ts';

/** Only resource clients check tokens. */
export function requireResourceClient(client: Client): void {
  if (client.kind !== 'resource')
    throw new OAuthError('unauthorized_client', 'only resource clients may check tokens');
}

/**
 * Checks a token for a resource client: form, type, issuer and times, then (one Redis round trip)
 * the grant, the jti's revocation and the digest stored when the token was issued, which proves
 * the token Mandate's own without a signature check (see TokenVerifier.confirmIssued), then that
 * the caller serves one of its audiences and the grant is live. Anything doubtful, including an
 * unreachable store, is `{ active: false }`; claims are returned only once proven.
 */
export async function checkAccessToken(
  broker: Broker,
  caller: Client,
  token: string,
): Promise<
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; reason: TokenRejection; claims?: AccessTokenClaims }
> {
  let read: InspectedToken;
  try {
    read = await broker.verifier.inspect(token);
  } catch (err) {
    if (err instanceof InvalidToken) return { ok: false, reason: err.reason };
    throw err;
  }
  // A token known from before and for another audience needs no store read.
  if (read.known && !servesAudience(caller, audiences(read.claims)))
    return { ok: false, reason: 'foreign_audience', claims: read.claims };
  let check: GrantCheck | undefined;
  try {
    check = await broker.grants.check(read.claims.grant_id, read.claims.jti);
  } catch (err) {
    if (err instanceof StoreUnavailable)
      return { ok: false, reason: 'unavailable', ...(read.known ? { claims: read.claims } : {}) };
    throw err;
  }
  let claims: AccessTokenClaims;
  try {
    claims = await broker.verifier.confirmIssued(token, read, check?.tokenDigest);
  } catch (err) {
    if (err instanceof InvalidToken) return { ok: false, reason: err.reason };
    throw err;
  }
  if (!servesAudience(caller, audiences(claims)))
    return { ok: false, reason: 'foreign_audience', claims };
  if (!check || check.client_id !== claims.client_id)
    return { ok: false, reason: 'grant_missing', claims };
  if (!isGrantLive(check, nowSecOf(broker))) return { ok: false, reason: 'grant_inactive', claims };
  if (check.jtiRevoked) return { ok: false, reason: 'token_revoked', claims };
  return { ok: true, claims };
}

export async function introspectToken(
  broker: Broker,
  caller: Client,
  token: string | undefined,
): Promise<IntrospectionResponse> {
  requireResourceClient(caller);
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  const result = await checkAccessToken(broker, caller, token);
  if (result.ok) {
    broker.metrics.decision('introspection', 'active');
    // A DPoP-bound token shows its binding (`cnf.jkt`, RFC 9449 6.2) and its type.
    return {
      active: true,
      token_type: result.claims.cnf ? 'DPoP' : 'Bearer',
      ...result.claims,
    };
  }
  broker.metrics.decision('introspection', 'inactive');
  if (result.reason === 'unavailable') {
    broker.log.warn(
      { reason: result.reason },
      'introspection answered inactive: store unavailable',
    );
  } else {
    // Recorded without waiting: a flood of bad tokens must not slow the answer, nor a log outage open it.
    broker.decisions
      .record({
        kind: 'introspection',
        outcome: 'inactive',
        reasons: [result.reason],
        client_id: caller.client_id,
        grant_id: result.claims?.grant_id,
        inputs: {
          caller: caller.client_id,
          jti: result.claims?.jti,
          sub: result.claims?.sub,
          aud: result.claims?.aud,
        },
      })
      .catch((err: unknown) => broker.log.warn({ err: String(err) }, 'decision record failed'));
  }
  return { active: false };
}
