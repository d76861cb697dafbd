// Signature checks of JWTs signed by clients (private_key_jwt) and trusted issuers (workload tokens):
// jose finds the key (inline sets, cached jwks_uri sets), node:crypto checks the signature.
import { KeyObject as NodeKeyObject } from 'node:crypto';
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose';
import type { KeySource, PublicJwks } from '../domain/key-source.ts';
import type { AssertionKeys, ForeignSignature } from '../domain/ports.ts';
import { compactSegments, type JwsAlg, jsonSegment, verifyJwsSignature } from './jws-signature.ts';
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
      const parsed = parseCompact(jwt, algorithms);
      if (!parsed) return 'bad_signature';
      const { header, input, signature } = parsed;
      const alg = jwsAlg(header.alg);
      const check = (key: KeyObject | CryptoKey) => {
        const keyObject = keyObjectOf(key);
        // RFC 7518 3.3 and 3.5: RSA keys of at least 2048 bits.
        if (
          (alg === 'RS256' || alg === 'PS256') &&
          (keyObject.asymmetricKeyDetails?.modulusLength ?? 0) < 2048
        )
          return Promise.resolve(false);
        return verifyJwsSignature(alg, keyObject, input, signature);
      };
      try {
        const key = await withAliases(set)(header, { payload: '', signature: '' });
        return (await check(key as KeyObject | CryptoKey)) ? 'verified' : 'bad_signature';
      } catch (err) {
        if (err instanceof errors.JWKSMultipleMatchingKeys) {
          for await (const key of err as unknown as AsyncIterable<KeyObject | CryptoKey>)
            if (await check(key)) return 'verified';
          return 'bad_signature';
        }
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

interface ParsedCompact {
  readonly header: { alg: string; kid?: string } & Record<string, unknown>;
  readonly input: string;
  readonly signature: Buffer;
}

/**
 * A compact JWS whose protected header is a JSON object with an allowed `alg` and no `crit` or
 * `b64` (RFC 7515 4.1.11, RFC 7797: extensions we do not understand), or undefined.
 */
function parseCompact(jwt: string, algorithms: readonly string[]): ParsedCompact | undefined {
  const parts = compactSegments(jwt);
  if (!parts) return undefined;
  const [h, p, s] = parts;
  const header = jsonSegment(h);
  if (!header) return undefined;
  const { alg, kid } = header as Record<string, unknown>;
  if (typeof alg !== 'string' || !algorithms.includes(alg)) return undefined;
  if (kid !== undefined && typeof kid !== 'string') return undefined;
  if ('crit' in header || 'b64' in header) return undefined;
  return {
    header: header as ParsedCompact['header'],
    input: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

/** The signature algorithm of an allowed `alg` (Ed25519 is EdDSA's fully-specified name). */
function jwsAlg(alg: string): JwsAlg {
  return alg === 'Ed25519' ? 'EdDSA' : (alg as JwsAlg);
}

/** jose hands out WebCrypto keys; node:crypto verifies bare KeyObjects without WebCrypto's copies. */
const keyObjects = new WeakMap<CryptoKey, NodeKeyObject>();
function keyObjectOf(key: KeyObject | CryptoKey): NodeKeyObject {
  if (key instanceof NodeKeyObject) return key;
  const known = keyObjects.get(key as CryptoKey);
  if (known) return known;
  const created = NodeKeyObject.from(key as CryptoKey);
  keyObjects.set(key as CryptoKey, created);
  return created;
}
