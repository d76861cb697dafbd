// An access token proven Mandate's own for a caller that reads the grant separately (evaluation): remembered, by its issued digest, or by its signature.
import type { AccessTokenClaims } from '../domain/access-token.ts';
import type { Broker } from './broker.ts';

/**
 * The claims of `token` once proven one Mandate issued, unaltered: these exact bytes proven
 * before; else the digest stored when it was issued (one store read, see
 * TokenVerifier.confirmIssued); else, with none stored, its signature. Throws InvalidToken, or
 * StoreUnavailable when the digest cannot be read.
 */
export async function proveToken(
  broker: Pick<Broker, 'verifier' | 'grants'>,
  token: string,
): Promise<AccessTokenClaims> {
  const read = await broker.verifier.inspect(token);
  if (read.known) return read.claims;
  const check = await broker.grants.check(read.claims.grant_id, read.claims.jti);
  return broker.verifier.confirmIssued(token, read, check?.tokenDigest);
}
