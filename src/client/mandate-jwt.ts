// Which JWTs from Mandate a resource accepts: asymmetric algorithms, and which jose errors mean a bad token.
import { errors } from 'jose';

/** Asymmetric algorithms only: a shared-secret `alg` must never verify a Mandate token. */
export const MANDATE_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
  'Ed25519',
];

/** jose codes that mean the token is bad, as opposed to the keys being unreachable. */
const TOKEN_FAULTS = new Set([
  errors.JWTExpired.code,
  errors.JWTClaimValidationFailed.code,
  errors.JWSSignatureVerificationFailed.code,
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JWSInvalid.code,
  errors.JWTInvalid.code,
  errors.JOSEAlgNotAllowed.code,
  errors.JOSENotSupported.code,
]);

/** True when jose refused the token itself; false when the keys could not be had (retry). */
export function isTokenFault(err: unknown): err is errors.JOSEError {
  return err instanceof errors.JOSEError && TOKEN_FAULTS.has(err.code);
}
