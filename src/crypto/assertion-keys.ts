// Signature checks of JWTs signed by clients (private_key_jwt) and trusted issuers (workload tokens), with jose.
import {
  type CryptoKey,
  compactVerify,
  createLocalJWKSet,
  errors,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose';
import type { KeySource, PublicJwks } from '../domain/key-source.ts';
import type { AssertionKeys, ForeignSignature } from '../domain/ports.ts';
import type { RemoteJwks } from './remote-jwks.ts';

/** Names of one algorithm: EdDSA and its fully-specified name Ed25519 (RFC 9864) find each other's keys. */
const ALG_ALIASES: Readonly<Record<string, string>> = { Ed25519: 'EdDSA', EdDSA: 'Ed25519' };

/** A key getter that, finding no key for the header's alg, looks again under its alias. */
function withAliases(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (err) {
      const alias = ALG_ALIASES[header.alg ?? ''];
      if (!alias || !(err instanceof errors.JWKSNoMatchingKey)) throw err;
      return getKey({ ...header, alg: alias }, token);
    }
  };
}

/** Most inline key sets kept imported (by their JSON), oldest dropped first. */
const MAX_LOCAL_SETS = 1000;

/**
 * The AssertionKeys port: jose's compactVerify against a local (inline) or remote (jwks_uri) key
 * set, only with the algorithms given (so never `none` or HMAC), refusing any `crit` extension.
 * Without a `kid`, every key of the header's algorithm is tried in turn (jose reports several
 * candidates and lets us iterate them).
 */
export function createAssertionKeys(remote: RemoteJwks): AssertionKeys {
  const local = new Map<string, JWTVerifyGetKey>();
  const localSet = (jwks: PublicJwks): JWTVerifyGetKey => {
    const id = JSON.stringify(jwks);
    const known = local.get(id);
    if (known) return known;
    const set = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
    local.set(id, set);
    if (local.size > MAX_LOCAL_SETS) local.delete(local.keys().next().value as string);
    return set;
  };

  return {
    async verify(jwt, keys: KeySource, algorithms): Promise<ForeignSignature> {
      const set = keys.jwks ? localSet(keys.jwks) : remote.get(keys.jwks_uri);
      if (!set) return 'no_keys';
      const getKey = withAliases(set);
      const options = { algorithms: [...algorithms] };
      try {
        await compactVerify(jwt, getKey, options);
        return 'verified';
      } catch (err) {
        if (err instanceof errors.JWKSMultipleMatchingKeys) {
          for await (const key of err as unknown as AsyncIterable<KeyObject | CryptoKey>) {
            try {
              await compactVerify(jwt, key, options);
              return 'verified';
            } catch {
              // the next candidate
            }
          }
          return 'bad_signature';
        }
        if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
        if (
          err instanceof errors.JWKSNoMatchingKey ||
          err instanceof errors.JWKSTimeout ||
          err instanceof errors.JWKSInvalid
        )
          return 'no_keys';
        if (err instanceof errors.JOSEError) {
          // A failed fetch is a JOSEError of its own; anything about the token itself is a bad one.
          return err.code === 'ERR_JOSE_GENERIC' ? 'no_keys' : 'bad_signature';
        }
        // The bounded fetch's refusals and network errors: no keys to be had.
        return 'no_keys';
      }
    },
  };
}
