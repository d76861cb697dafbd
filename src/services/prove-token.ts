// An access token proven Mandate's own for evaluation: remembered, by its issued digest (checked in its own read or in the grant's evaluation read), or by its signature.
import type { AccessTokenClaims } from '../domain/access-token.ts';
import type { EvaluationState, InspectedToken } from '../domain/ports.ts';
import type { Broker } from './broker.ts';

/**
 * The claims of `token` once proven one Mandate issued, unaltered: these exact bytes proven
 * before; else the digest stored when it was issued (one store read, see
 * TokenVerifier.confirmIssued); else, with none stored, its signature. Throws InvalidToken, or
 * StoreUnavailable when the digest cannot be read. `read` is the token's inspection, if done.
 */
export async function proveToken(
  broker: Pick<Broker, 'verifier' | 'grants'>,
  token: string,
  read?: InspectedToken,
): Promise<AccessTokenClaims> {
  const inspected = read ?? (await broker.verifier.inspect(token));
  if (inspected.known) return inspected.claims;
  const check = await broker.grants.check(inspected.claims.grant_id, inspected.claims.jti);
  return broker.verifier.confirmIssued(token, inspected, check?.tokenDigest);
}

/**
 * Proves an inspected, not yet proven token and reads its grant's evaluation facts in one round
 * trip (EvaluationStore.readProving): the call is counted only if the token's digest is the one
 * stored when it was issued, and the claims are used only once confirmIssued compared the two in
 * constant time (a different digest throws InvalidToken, nothing counted). With no digest stored,
 * the signature proves it and a second read counts the call, as before digests. The state is
 * undefined when the grant is gone. Throws InvalidToken or StoreUnavailable.
 */
export async function proveWithEvaluationRead(
  broker: Pick<Broker, 'verifier' | 'signer' | 'evaluations'>,
  token: string,
  read: InspectedToken,
  action: string,
  nowSec: number,
): Promise<{ claims: AccessTokenClaims; state: EvaluationState | undefined }> {
  const { grant_id, jti, client_id } = read.claims;
  const found = await broker.evaluations.readProving(
    grant_id,
    jti,
    client_id,
    action,
    nowSec,
    broker.signer.digestOf(token),
  );
  const claims = await broker.verifier.confirmIssued(token, read, found.storedDigest);
  if (found.state || !found.grantFound) return { claims, state: found.state };
  return {
    claims,
    state: await broker.evaluations.read(grant_id, jti, client_id, action, nowSec),
  };
}
