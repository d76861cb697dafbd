// RFC 9449 at the broker: a token request's proof, what a grant's binding demands, and proofs forwarded to evaluation.
import type { AccessTokenClaims } from '../domain/access-token.ts';
import type { Client } from '../domain/client.ts';
import {
  DPOP_REJECTION_TEXT,
  type DpopProofFacts,
  type DpopRejection,
  isNonceRejection,
  proofTextRefusal,
  tokenEndpointOf,
} from '../domain/dpop.ts';
import { OAuthError } from '../domain/errors.ts';
import type { Broker } from './broker.ts';

/** The token endpoint's refusal of a proof: `use_dpop_nonce` with a fresh nonce, else `invalid_dpop_proof`. */
export function proofRefusal(broker: Pick<Broker, 'dpop'>, reason: DpopRejection): OAuthError {
  if (isNonceRejection(reason))
    return new OAuthError(
      'use_dpop_nonce',
      DPOP_REJECTION_TEXT[reason],
      {},
      {
        'DPoP-Nonce': broker.dpop.nonce(),
      },
    );
  return new OAuthError('invalid_dpop_proof', DPOP_REJECTION_TEXT[reason]);
}

/**
 * Checks the `DPoP` header of a token request (RFC 9449 4.3: form, `typ`, `alg`, public `jwk`,
 * signature, `htm` POST, `htu` the token endpoint derived from the issuer, `iat` window, nonce
 * when required); undefined when none was sent. Its jti is claimed later, by bindProof, once the
 * grant's own checks passed. Throws invalid_dpop_proof or use_dpop_nonce.
 */
export async function tokenRequestProof(
  broker: Pick<Broker, 'dpop' | 'settings'>,
  header: string | undefined,
): Promise<DpopProofFacts | undefined> {
  if (header === undefined) return undefined;
  const unread = proofTextRefusal(header);
  if (unread) throw proofRefusal(broker, unread.reason);
  const check = await broker.dpop.verify(header, {
    method: 'POST',
    uri: tokenEndpointOf(broker.settings.issuer),
    requireNonce: broker.settings.dpop.requireNonce,
  });
  if (!check.ok) throw proofRefusal(broker, check.reason);
  return { jkt: check.jkt, jti: check.jti, iat: check.iat };
}

/** Claims a checked proof's jti (namespaced by its key) for the window it could be accepted in; false on a replay. */
export function claimProof(
  broker: Pick<Broker, 'oneTimeUses' | 'settings'>,
  proof: DpopProofFacts,
): Promise<boolean> {
  const untilSec = Math.ceil(proof.iat) + broker.settings.dpop.windowSec;
  return broker.oneTimeUses.claim('dpop_proof', `${proof.jkt}.${proof.jti}`, untilSec);
}

/**
 * What a token request's proof binds: the grant's key when it has one (the proof must be by that
 * key), else the proof's own; undefined for a bearer token. A client registered with
 * `dpop_bound_access_tokens` and a bound grant both need a proof. The proof's jti is claimed last,
 * so a refused request spends none. Throws invalid_dpop_proof.
 */
export async function bindProof(
  broker: Pick<Broker, 'dpop' | 'oneTimeUses' | 'settings'>,
  client: Pick<Client, 'dpop_bound_access_tokens'>,
  proof: DpopProofFacts | undefined,
  boundJkt?: string | undefined,
): Promise<string | undefined> {
  if (!proof) {
    if (boundJkt || client.dpop_bound_access_tokens) throw proofRefusal(broker, 'missing');
    return undefined;
  }
  if (boundJkt !== undefined && proof.jkt !== boundJkt) throw proofRefusal(broker, 'wrong_key');
  if (!(await claimProof(broker, proof))) throw proofRefusal(broker, 'replayed');
  return boundJkt ?? proof.jkt;
}

/** What a resource client forwards of the request it guards (AuthZEN `subject.properties`, `context.http`). */
export interface ForwardedProof {
  /** The DPoP proof the resource received. */
  readonly proof?: string | undefined;
  /** The key the resource says it verified a proof by (only with `dpop.trust_resource_verification`). */
  readonly jkt?: string | undefined;
  readonly method?: string | undefined;
  readonly uri?: string | undefined;
}

/** Proofs already checked within one batch: the same proof may back several evaluations of one request. */
export type ProofMemo = Map<string, Promise<DpopRejection | undefined>>;

/**
 * Why a DPoP-bound token may not be used in this evaluation, or undefined when it may (or is not
 * bound): the resource must forward a valid proof for `context.http` by the token's key with its
 * `ath`, whose jti is then spent; or, when the broker trusts it to, state the key it verified.
 */
export async function forwardedProofRejection(
  broker: Pick<Broker, 'dpop' | 'oneTimeUses' | 'settings'>,
  claims: Pick<AccessTokenClaims, 'cnf'>,
  token: string,
  forwarded: ForwardedProof,
  memo?: ProofMemo,
): Promise<DpopRejection | undefined> {
  const jkt = claims.cnf?.jkt;
  if (jkt === undefined) return undefined;
  if (broker.settings.dpop.trustResourceVerification && forwarded.jkt !== undefined)
    return forwarded.jkt === jkt ? undefined : 'wrong_key';
  const { proof, method, uri } = forwarded;
  if (proof === undefined || method === undefined || uri === undefined) return 'missing';
  const key = `${proof}\u0000${token}\u0000${method}\u0000${uri}`;
  const known = memo?.get(key);
  if (known) return known;
  const checking = (async (): Promise<DpopRejection | undefined> => {
    const unread = proofTextRefusal(proof);
    if (unread) return unread.reason;
    const check = await broker.dpop.verify(proof, {
      method,
      uri,
      accessToken: token,
      requireNonce: false,
    });
    if (!check.ok) return check.reason;
    if (check.jkt !== jkt) return 'wrong_key';
    return (await claimProof(broker, check)) ? undefined : 'replayed';
  })();
  memo?.set(key, checking);
  return checking;
}
