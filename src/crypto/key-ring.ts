// Signing and verification keys: the active key signs, retired keys verify until their tokens expire.
// jose generates and exports keys; signing and verification are single node:crypto calls.
import { type KeyObject, createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { type JWK, exportJWK, generateKeyPair } from 'jose';
import { type AccessTokenClaims, AccessTokenClaimsSchema, InvalidToken } from '../domain/access-token.ts';
import type { Clock, TokenSigner, TokenVerifier } from '../domain/ports.ts';
import type { SecurityEventSigner } from '../domain/security-event.ts';
import { MAX_ACCESS_TTL_SEC } from '../domain/ttl.ts';
import type { KeyRecord, KeyStore } from '../store/redis-key-store.ts';

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

export interface KeyRingOptions {
  readonly alg: SigningAlg;
  readonly issuer: string;
  readonly clockToleranceSec: number;
  /** Rotate the active key once it is this old (0: never on its own). */
  readonly rotateAfterSec: number;
  /** Called after this process rotated (by request or by age), to tell the other processes. */
  readonly onRotated?: (kid: string) => Promise<void>;
}

export interface KeyRing extends TokenSigner, TokenVerifier, SecurityEventSigner {
  /** Reads the keys from the store, creating the first one if there is none. */
  load(): Promise<void>;
  /** Makes a new key active; the old one keeps verifying until its tokens have expired. */
  rotate(): Promise<string>;
  /** Rotates when the active key is older than `rotateAfterSec`; prunes expired keys. */
  maintain(): Promise<void>;
  /** Public keys only: the JWKS document. */
  jwks(): { keys: JWK[] };
  readonly activeKid: string | undefined;
}

/** Longest possible life of a token after its key retires, plus skew: then the key may go. */
const RETIRED_KEY_GRACE_SEC = MAX_ACCESS_TTL_SEC + 60;
/** Largest compact JWS we even look at (a real one is ~1 KB). */
const MAX_TOKEN_BYTES = 16_384;
const RELOAD_MIN_INTERVAL_MS = 1000;

interface LoadedKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly key: KeyObject;
  readonly publicJwk: JWK;
}

export function createKeyRing(store: KeyStore, opts: KeyRingOptions, clock: Clock): KeyRing {
  let active: (LoadedKey & { privateKey: KeyObject; createdAt: number }) | undefined;
  let verifiers = new Map<string, LoadedKey>();
  let published: JWK[] = [];
  let lastReloadMs = 0;
  const nowSec = () => Math.floor(clock.nowMs() / 1000);

  const load = async () => {
    let state = await store.load();
    if (!state.active) {
      await store.ensureActive(await generateRecord(opts.alg, nowSec()));
      state = await store.load();
    }
    const now = nowSec();
    const next = new Map<string, LoadedKey>();
    const jwks: JWK[] = [];
    let nextActive: typeof active;
    for (const rec of state.keys) {
      if (rec.remove_after !== undefined && rec.remove_after < now && rec.kid !== state.active) continue;
      const alg = rec.alg as SigningAlg;
      const publicJwk = { ...(rec.public_jwk as JWK), kid: rec.kid, alg, use: 'sig' };
      const key = createPublicKey({ key: rec.public_jwk, format: 'jwk' } as Parameters<typeof createPublicKey>[0]);
      next.set(rec.kid, { kid: rec.kid, alg, key, publicJwk });
      jwks.push(publicJwk);
      if (rec.kid === state.active) {
        const privateKey = createPrivateKey({ key: rec.private_jwk, format: 'jwk' } as Parameters<typeof createPrivateKey>[0]);
        nextActive = { kid: rec.kid, alg, key, publicJwk, privateKey, createdAt: rec.created_at };
      }
    }
    if (!nextActive) throw new Error('the active signing key is missing from the store');
    verifiers = next;
    published = jwks;
    active = nextActive;
    lastReloadMs = clock.nowMs();
  };

  const rotate = async () => {
    const current = active?.kid ?? '';
    const now = nowSec();
    const kid = await store.rotate(current, await generateRecord(opts.alg, now), now, now + RETIRED_KEY_GRACE_SEC);
    await load();
    await opts.onRotated?.(kid);
    return kid;
  };

  const keyFor = async (kid: string): Promise<LoadedKey | undefined> => {
    const known = verifiers.get(kid);
    if (known) return known;
    // Another process may have rotated: look again, at most once a second.
    if (clock.nowMs() - lastReloadMs < RELOAD_MIN_INTERVAL_MS) return undefined;
    lastReloadMs = clock.nowMs();
    await load();
    return verifiers.get(kid);
  };

  return {
    load,
    rotate,
    get activeKid() {
      return active?.kid;
    },
    jwks: () => ({ keys: published }),

    async maintain() {
      await store.prune(nowSec());
      if (opts.rotateAfterSec > 0 && active && nowSec() - active.createdAt >= opts.rotateAfterSec) await rotate();
      else await load();
    },

    async sign(claims) {
      if (!active) throw new Error('no signing key loaded');
      return signCompact(active, 'at+jwt', claims);
    },

    /** A Security Event Token (RFC 8417): its own `typ`, so it can never pass as an access token. */
    async signSecurityEvent(payload) {
      if (!active) throw new Error('no signing key loaded');
      return signCompact(active, 'secevent+jwt', payload);
    },

    async verify(token): Promise<AccessTokenClaims> {
      const parts = compactParts(token);
      const header = parseSegment(parts[0]);
      const kid = header.kid;
      if (typeof kid !== 'string' || kid.length > 128) throw new InvalidToken('unknown_key');
      const key = await keyFor(kid);
      if (!key) throw new InvalidToken('unknown_key');
      // Only the key's own algorithm (no "none", no HMAC with a public key), only our token type,
      // and no JWS extension we would have to understand (crit, b64).
      if (header.alg !== key.alg) throw new InvalidToken('bad_signature');
      if (typeof header.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(header.typ)) throw new InvalidToken('wrong_type');
      if ('crit' in header || 'b64' in header) throw new InvalidToken('malformed');
      if (!verifySignature(key, `${parts[0]}.${parts[1]}`, parts[2])) throw new InvalidToken('bad_signature');
      const payload = parseSegment(parts[1]);
      const claims = AccessTokenClaimsSchema.safeParse(payload);
      if (!claims.success) throw new InvalidToken('bad_claims');
      const { iss, exp, iat } = claims.data;
      // The schema keeps only the claims it knows: read nbf from the payload itself.
      const nbf = payload.nbf;
      const now = clock.nowMs() / 1000;
      const tolerance = opts.clockToleranceSec;
      if (iss !== opts.issuer) throw new InvalidToken('wrong_issuer');
      if (exp <= now - tolerance) throw new InvalidToken('expired');
      if (iat > now + tolerance) throw new InvalidToken('not_yet_valid');
      if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) throw new InvalidToken('not_yet_valid');
      return claims.data;
    },
  };
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** The three segments of a compact JWS, each strict base64url; anything else is malformed. */
function compactParts(token: string): [string, string, string] {
  if (token.length > MAX_TOKEN_BYTES) throw new InvalidToken('malformed');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL.test(p))) throw new InvalidToken('malformed');
  return parts as [string, string, string];
}

/** A segment that must decode to a JSON object. */
function parseSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidToken('malformed');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidToken('malformed');
  return value as Record<string, unknown>;
}

/** One synchronous node:crypto verification with the key's own algorithm. */
function verifySignature(key: LoadedKey, input: string, signature: string): boolean {
  const sig = Buffer.from(signature, 'base64url');
  const data = Buffer.from(input);
  try {
    if (key.alg === 'ES256') return sig.length === 64 && cryptoVerify('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, sig);
    if (key.alg === 'EdDSA') return cryptoVerify(null, data, key.key, sig);
    return cryptoVerify('sha256', data, key.key, sig);
  } catch {
    return false;
  }
}

/**
 * Compact JWS of our own claims, signed with node:crypto in one synchronous call (WebCrypto's
 * promise and copying cost as much as the ECDSA signature itself). Verification stays with jose.
 */
function signCompact(key: { alg: SigningAlg; kid: string; privateKey: KeyObject }, typ: string, payload: object): string {
  const input = `${b64url(JSON.stringify({ alg: key.alg, typ, kid: key.kid }))}.${b64url(JSON.stringify(payload))}`;
  const data = Buffer.from(input);
  const signature =
    key.alg === 'EdDSA'
      ? cryptoSign(null, data, key.privateKey)
      : key.alg === 'ES256'
        ? cryptoSign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
        : cryptoSign('sha256', data, key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');


async function generateRecord(alg: SigningAlg, nowSec: number): Promise<KeyRecord> {
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return {
    kid: `${alg.toLowerCase()}-${nowSec.toString(36)}-${randomBytes(6).toString('base64url')}`,
    alg,
    private_jwk: (await exportJWK(pair.privateKey)) as Record<string, unknown>,
    public_jwk: (await exportJWK(pair.publicKey)) as Record<string, unknown>,
    created_at: nowSec,
  };
}
