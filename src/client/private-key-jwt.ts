// private_key_jwt for the SDK and the CLI: client assertions (RFC 7523 2.2) signed with jose, one per request.
import { randomUUID } from 'node:crypto';
import { type CryptoKey, importJWK, importPKCS8, type JWK, type KeyObject, SignJWT } from 'jose';
import type * as oauth from 'oauth4webapi';

/** The algorithms Mandate takes for client assertions. */
export type AssertionAlgorithm = 'ES256' | 'EdDSA' | 'PS256' | 'RS256';

/** A private key: a CryptoKey or KeyObject, a private JWK (with `d`), or PKCS#8 PEM text. */
export type PrivateKeyInput = CryptoKey | KeyObject | JWK | string;

/** How a client without a secret authenticates to Mandate (private_key_jwt); give this or `clientSecret`. */
export interface ClientKeyOptions {
  readonly clientId: string;
  /** The client secret (HTTP Basic). Give this or `privateKey`. */
  readonly clientSecret?: string;
  /**
   * private_key_jwt: the client's private key (CryptoKey, KeyObject, private JWK or PKCS#8 PEM);
   * each request to Mandate's form endpoints carries a fresh assertion signed with it.
   */
  readonly privateKey?: PrivateKeyInput;
  /** With `privateKey`: the `kid` to send (default the JWK's) and the algorithm (default from the key). */
  readonly keyId?: string;
  readonly algorithm?: AssertionAlgorithm;
}

export interface AssertionSignerOptions {
  readonly clientId: string;
  readonly privateKey: PrivateKeyInput;
  /** Default: the JWK's `alg`, else from its key type (EC P-256 ES256, Ed25519 EdDSA, RSA RS256); ES256 for PEM. */
  readonly algorithm?: AssertionAlgorithm | undefined;
  /** The `kid` header (default: the JWK's `kid`; without one Mandate tries each key of the algorithm). */
  readonly keyId?: string | undefined;
  /** Lifetime of each assertion in seconds (default 60; Mandate takes at most 300). */
  readonly lifetimeSec?: number | undefined;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
}

/** Signs a fresh assertion for `audience` (the issuer): new `jti`, `iat` now, `exp` shortly after. */
export type AssertionSigner = (audience: string) => Promise<string>;

function algorithmOf(key: PrivateKeyInput, given: AssertionAlgorithm | undefined): string {
  if (given) return given;
  if (typeof key === 'string') return 'ES256';
  if ('kty' in key && typeof key.kty === 'string') {
    const jwk = key as JWK;
    if (jwk.alg) return jwk.alg;
    if (jwk.kty === 'OKP') return 'EdDSA';
    if (jwk.kty === 'RSA') return 'RS256';
    return 'ES256';
  }
  const type =
    'asymmetricKeyType' in key
      ? (key as { asymmetricKeyType?: string }).asymmetricKeyType
      : (key as CryptoKey).algorithm.name;
  if (type === 'ed25519' || type === 'Ed25519') return 'EdDSA';
  if (type === 'rsa' || type === 'RSASSA-PKCS1-v1_5') return 'RS256';
  if (type === 'rsa-pss' || type === 'RSA-PSS') return 'PS256';
  return 'ES256';
}

/** A signer of client assertions for one client and key (the key is imported once). */
export function createAssertionSigner(opts: AssertionSignerOptions): AssertionSigner {
  const alg = algorithmOf(opts.privateKey, opts.algorithm);
  const raw = opts.privateKey;
  const kid =
    opts.keyId ?? (typeof raw === 'object' && 'kty' in raw ? (raw as JWK).kid : undefined);
  const lifetimeSec = opts.lifetimeSec ?? 60;
  const now = opts.now ?? Date.now;
  let imported: Promise<CryptoKey | KeyObject | Uint8Array> | undefined;
  const key = () => {
    imported ??=
      typeof raw === 'string'
        ? importPKCS8(raw, alg)
        : 'kty' in raw && typeof raw.kty === 'string'
          ? importJWK(raw as JWK, alg)
          : Promise.resolve(raw as CryptoKey | KeyObject);
    return imported;
  };
  return async (audience) => {
    const iat = Math.floor(now() / 1000);
    return new SignJWT({})
      .setProtectedHeader(kid ? { alg, kid, typ: 'JWT' } : { alg, typ: 'JWT' })
      .setIssuer(opts.clientId)
      .setSubject(opts.clientId)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetimeSec)
      .setJti(randomUUID())
      .sign(await key());
  };
}

/** oauth4webapi client authentication sending a fresh jose-signed assertion (aud: the issuer) with every request. */
export function privateKeyJwt(sign: AssertionSigner): oauth.ClientAuth {
  return async (as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    body.set('client_assertion', await sign(as.issuer));
  };
}
