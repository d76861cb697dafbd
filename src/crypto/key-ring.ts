// Signing and verification keys: the active key signs, retired keys verify until their tokens expire.
// jose generates and exports keys; signing and verification are bare node:crypto calls (see
// signCompact and verifySignature for which run on libuv's thread pool).
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  type AccessTokenClaims,
  AccessTokenClaimsSchema,
  type CallerTokenClaims,
  CallerTokenClaimsSchema,
  InvalidToken,
} from '../domain/access-token.ts';
import type { KeyRecord, KeyStore } from '../domain/key-store.ts';
import type {
  CallerTokens,
  Clock,
  InspectedToken,
  TokenSigner,
  TokenVerifier,
} from '../domain/ports.ts';
import type { SecurityEventSigner } from '../domain/security-event.ts';
import { MAX_ACCESS_TTL_SEC } from '../domain/ttl.ts';
import { derToJose } from './ecdsa-signature.ts';
import { compactSegments, jsonSegment, verifyJwsSignature } from './jws-signature.ts';
import { matchesTokenDigest, tokenDigest } from './token-digest.ts';
import { createVerifiedTokens, deepFreeze, type VerifiedToken } from './verified-tokens.ts';

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';

export interface KeyRingOptions {
  readonly alg: SigningAlg;
  readonly issuer: string;
  readonly clockToleranceSec: number;
  /** Tokens remembered as verified, by their exact text (0: check every signature afresh). */
  readonly verifiedCacheEntries?: number;
  /** Rotate the active key once it is this old (0: never on its own). */
  readonly rotateAfterSec: number;
  /** Called after this process rotated (by request or by age), to tell the other processes. */
  readonly onRotated?: (kid: string) => Promise<void>;
}

export interface KeyRing extends TokenSigner, TokenVerifier, CallerTokens, SecurityEventSigner {
  /** Reads the keys from the store, creating the first one if there is none. */
  load(): Promise<void>;
  /** Makes a new key active; the old one keeps verifying until its tokens have expired. */
  rotate(): Promise<string>;
  /** Rotates when the active key is older than `rotateAfterSec`; prunes expired keys. */
  maintain(): Promise<void>;
  /** Public keys only: the JWKS document. */
  jwks(): { keys: JWK[] };
  readonly activeKid: string | undefined;
  /** When the active signing key was created (epoch s), for the key-age gauge. */
  readonly activeKeyCreatedAt: number | undefined;
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
  const verified = createVerifiedTokens(opts.verifiedCacheEntries ?? 10_000);

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
      if (rec.remove_after !== undefined && rec.remove_after < now && rec.kid !== state.active)
        continue;
      const alg = rec.alg as SigningAlg;
      const publicJwk = { ...(rec.public_jwk as JWK), kid: rec.kid, alg, use: 'sig' };
      const key = createPublicKey({ key: rec.public_jwk, format: 'jwk' } as Parameters<
        typeof createPublicKey
      >[0]);
      next.set(rec.kid, { kid: rec.kid, alg, key, publicJwk });
      jwks.push(publicJwk);
      if (rec.kid === state.active) {
        const privateKey = createPrivateKey({ key: rec.private_jwk, format: 'jwk' } as Parameters<
          typeof createPrivateKey
        >[0]);
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
    const kid = await store.rotate(
      current,
      await generateRecord(opts.alg, now),
      now,
      now + RETIRED_KEY_GRACE_SEC,
    );
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

  /**
   * One of our own JWTs (`typ: at+jwt`) by its form and header, signature aside: a key of the
   * ring by `kid`, only that key's own algorithm (no "none", no HMAC with a public key), only
   * our token type, and no JWS extension we would have to understand (crit, b64).
   */
  const readOwnToken = async (token: string) => {
    const parts = compactParts(token);
    const header = parseSegment(parts[0]);
    const kid = header.kid;
    if (typeof kid !== 'string' || kid.length > 128) throw new InvalidToken('unknown_key');
    const key = await keyFor(kid);
    if (!key) throw new InvalidToken('unknown_key');
    if (header.alg !== key.alg) throw new InvalidToken('bad_signature');
    if (typeof header.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(header.typ))
      throw new InvalidToken('wrong_type');
    if ('crit' in header || 'b64' in header) throw new InvalidToken('malformed');
    return { parts, key, payload: parseSegment(parts[1]) };
  };

  /** One of our own JWTs whose signature checks out with a key of the ring. */
  const verifyOwnSignature = async (token: string) => {
    const { parts, key, payload } = await readOwnToken(token);
    if (!(await verifySignature(key, `${parts[0]}.${parts[1]}`, parts[2])))
      throw new InvalidToken('bad_signature');
    return { kid: key.kid, payload };
  };

  /** An access token's claims checked (schema, issuer, times) and frozen, as the memory keeps them. */
  const accessClaimsOf = (kid: string, payload: Record<string, unknown>): VerifiedToken => {
    const claims = AccessTokenClaimsSchema.safeParse(payload);
    if (!claims.success) throw new InvalidToken('bad_claims');
    if (claims.data.iss !== opts.issuer) throw new InvalidToken('wrong_issuer');
    // The schema keeps only the claims it knows: read nbf from the payload itself.
    const nbf = payload.nbf;
    if (nbf !== undefined && typeof nbf !== 'number') throw new InvalidToken('not_yet_valid');
    checkTimes(claims.data, nbf);
    return { kid, claims: deepFreeze(claims.data), nbf };
  };

  const verify = async (token: string): Promise<AccessTokenClaims> => {
    const known = verified.get(token);
    // Seen before, byte for byte, and its key still verifies: only the times can have changed.
    if (known && verifiers.has(known.kid)) return checkTimes(known.claims, known.nbf);
    const { kid, payload } = await verifyOwnSignature(token);
    const entry = accessClaimsOf(kid, payload);
    verified.set(token, entry);
    return entry.claims;
  };

  /** Tokens inspect() read and did not know, awaiting their proof (see confirmIssued). */
  const inspected = new WeakMap<InspectedToken, VerifiedToken & { token: string }>();

  /** exp, iat and nbf against the clock, with the configured tolerance. */
  const checkTimes = <T extends { exp: number; iat: number }>(
    claims: T,
    nbf: number | undefined,
  ): T => {
    const now = clock.nowMs() / 1000;
    const tolerance = opts.clockToleranceSec;
    if (claims.exp <= now - tolerance) throw new InvalidToken('expired');
    if (claims.iat > now + tolerance) throw new InvalidToken('not_yet_valid');
    if (nbf !== undefined && nbf > now + tolerance) throw new InvalidToken('not_yet_valid');
    return claims;
  };

  return {
    load,
    rotate,
    get activeKid() {
      return active?.kid;
    },
    get activeKeyCreatedAt() {
      return active?.createdAt;
    },
    jwks: () => ({ keys: published }),

    async maintain() {
      await store.prune(nowSec());
      if (opts.rotateAfterSec > 0 && active && nowSec() - active.createdAt >= opts.rotateAfterSec)
        await rotate();
      else await load();
    },

    sign(claims) {
      if (!active) return Promise.reject(new Error('no signing key loaded'));
      return signCompact(active, 'at+jwt', claims);
    },

    digestOf: tokenDigest,

    /** A Security Event Token (RFC 8417): its own `typ`, so it can never pass as an access token. */
    signSecurityEvent(payload) {
      if (!active) return Promise.reject(new Error('no signing key loaded'));
      return signCompact(active, 'secevent+jwt', payload);
    },

    verify,

    async inspect(token): Promise<InspectedToken> {
      const known = verified.get(token);
      if (known && verifiers.has(known.kid))
        return { claims: checkTimes(known.claims, known.nbf), known: true };
      const { key, payload } = await readOwnToken(token);
      const entry = accessClaimsOf(key.kid, payload);
      const result: InspectedToken = { claims: entry.claims, known: false };
      inspected.set(result, { ...entry, token });
      return result;
    },

    async confirmIssued(token, read, storedDigest): Promise<AccessTokenClaims> {
      if (read.known) return read.claims;
      const entry = inspected.get(read);
      // Only what inspect() read from these very bytes can be confirmed.
      if (!entry || entry.token !== token) throw new InvalidToken('bad_signature');
      // No digest stored (a token issued before digests were, or by a path that stores none):
      // the signature is the proof, as for any other holder of the JWKS.
      if (storedDigest === undefined) return verify(token);
      // A digest that differs means these are not the bytes issued under this jti: refused
      // outright, never handed to the signature check (no ECDSA verify on demand for a live jti).
      if (!matchesTokenDigest(token, storedDigest)) throw new InvalidToken('bad_signature');
      verified.set(token, { kid: entry.kid, claims: entry.claims, nbf: entry.nbf });
      return entry.claims;
    },

    signCallerToken(claims) {
      if (!active) return Promise.reject(new Error('no signing key loaded'));
      return signCompact(active, 'at+jwt', claims);
    },

    /** A caller token: no grant, `aud` the issuer itself; never cached with (nor mistaken for) access tokens. */
    async verifyCallerToken(token): Promise<CallerTokenClaims> {
      const { payload } = await verifyOwnSignature(token);
      const claims = CallerTokenClaimsSchema.safeParse(payload);
      if (!claims.success || 'grant_id' in payload) throw new InvalidToken('bad_claims');
      if (claims.data.iss !== opts.issuer) throw new InvalidToken('wrong_issuer');
      if (claims.data.aud !== opts.issuer) throw new InvalidToken('foreign_audience');
      checkTimes(claims.data, undefined);
      return claims.data;
    },
  };
}

/** The three segments of a compact JWS, each strict base64url; anything else is malformed. */
function compactParts(token: string): [string, string, string] {
  const parts = token.length > MAX_TOKEN_BYTES ? undefined : compactSegments(token);
  if (!parts) throw new InvalidToken('malformed');
  return parts;
}

/** A segment that must decode to a JSON object. */
function parseSegment(segment: string): Record<string, unknown> {
  const value = jsonSegment(segment);
  if (!value) throw new InvalidToken('malformed');
  return value;
}

/** One signature check with the key's own algorithm (see verifyJwsSignature). */
function verifySignature(key: LoadedKey, input: string, signature: string): Promise<boolean> {
  return verifyJwsSignature(key.alg, key.key, input, Buffer.from(signature, 'base64url'));
}

/**
 * Compact JWS of our own claims, signed with node:crypto (no WebCrypto copies). ES256 and EdDSA
 * sign on the calling thread: a signature costs about as much as handing it to libuv's thread
 * pool and waking the loop for its result. RS256 (several times slower) goes to the pool.
 */
async function signCompact(
  key: { alg: SigningAlg; kid: string; privateKey: KeyObject },
  typ: string,
  payload: object,
): Promise<string> {
  const input = `${b64url(JSON.stringify({ alg: key.alg, typ, kid: key.kid }))}.${b64url(JSON.stringify(payload))}`;
  const data = Buffer.from(input);
  const signature =
    key.alg === 'RS256'
      ? await new Promise<Buffer>((resolve, reject) =>
          cryptoSign('sha256', data, key.privateKey, (err, sig) =>
            err ? reject(err) : resolve(sig),
          ),
        )
      : cryptoSign(key.alg === 'EdDSA' ? null : 'sha256', data, key.privateKey);
  return `${input}.${(key.alg === 'ES256' ? derToJose(signature, 32) : signature).toString('base64url')}`;
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');

async function generateRecord(alg: SigningAlg, nowSec: number): Promise<KeyRecord> {
  const pair = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  return {
    kid: `${alg.toLowerCase()}-${nowSec.toString(36)}-${randomBytes(6).toString('base64url')}`,
    alg,
    private_jwk: (await exportJWK(pair.privateKey)) as Record<string, unknown>,
    public_jwk: (await exportJWK(pair.publicKey)) as Record<string, unknown>,
    created_at: nowSec,
  };
}
