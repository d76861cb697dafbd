// RFC 9449 proof verification (signature by the embedded key, thumbprint, ath) and stateless server nonces.
import {
  createHash,
  createHmac,
  createPublicKey,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import {
  checkProofClaims,
  checkProofHeader,
  type DpopCheck,
  type DpopJwk,
  type DpopRefusal,
  MAX_DPOP_PROOF_BYTES,
  MIN_RSA_BITS,
  thumbprintInput,
} from '../domain/dpop.ts';
import type { Clock, DpopExpectation, DpopVerifier } from '../domain/ports.ts';
import { compactSegments, jsonSegment, verifyJwsSignature } from './jws-signature.ts';

export interface DpopProofsOptions {
  /** How far a proof's `iat` may lie from now, either side, clock tolerance included (s). */
  readonly windowSec: number;
  /** A nonce is valid in the slot it was made in and the next: between one and two slots (s). */
  readonly nonceSlotSec: number;
}

export interface DpopProofs extends DpopVerifier {
  /** The secret every process derives nonces from (shared through the store); nonces fail until set. */
  useNonceSecret(secret: Buffer): void;
}

const refuse = (reason: DpopRefusal['reason']): DpopRefusal => ({ ok: false, reason });

/** base64url(SHA-256(access token)): a proof's `ath` (RFC 9449 4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The RFC 7638 SHA-256 thumbprint of a proof key (`cnf.jkt`). */
export function jwkThumbprint(jwk: DpopJwk): string {
  return createHash('sha256').update(thumbprintInput(jwk)).digest('base64url');
}

/** Proof keys imported lately, by their thumbprint input: an agent proves every request with one key. */
const KEY_CACHE_ENTRIES = 1000;

export function createDpopProofs(opts: DpopProofsOptions, clock: Clock): DpopProofs {
  let secret: Buffer | undefined;
  const imported = new Map<string, KeyObject>();
  const keyOf = (jwk: DpopJwk) => {
    const id = thumbprintInput(jwk);
    const known = imported.get(id);
    if (known) return known;
    const key = publicKeyOf(jwk);
    if (key) {
      if (imported.size >= KEY_CACHE_ENTRIES)
        imported.delete(imported.keys().next().value as string);
      imported.set(id, key);
    }
    return key;
  };
  const slotOf = (nowMs: number) => Math.floor(nowMs / 1000 / opts.nonceSlotSec);
  const nonceFor = (slot: number) => {
    if (!secret) throw new Error('the DPoP nonce secret is not loaded');
    return createHmac('sha256', secret).update(`dpop-nonce:${slot}`).digest('base64url');
  };
  const isCurrentNonce = (nonce: string) => {
    if (!/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false;
    const slot = slotOf(clock.nowMs());
    const given = Buffer.from(nonce);
    return [slot, slot - 1].some((s) => timingSafeEqual(given, Buffer.from(nonceFor(s))));
  };

  return {
    useNonceSecret(next) {
      secret = next;
    },
    nonce: () => nonceFor(slotOf(clock.nowMs())),

    async verify(proof: string, expected: DpopExpectation): Promise<DpopCheck> {
      if (proof.length > MAX_DPOP_PROOF_BYTES) return refuse('too_large');
      const parts = compactSegments(proof);
      if (!parts) return refuse('malformed');
      const [h, p, s] = parts;
      const header = jsonSegment(h);
      const payload = jsonSegment(p);
      if (!header || !payload) return refuse('malformed');
      const checked = checkProofHeader(header);
      if (!checked.ok) return checked;
      const { alg, jwk } = checked.header;
      const key = keyOf(jwk);
      if (!key) return refuse('bad_key');
      if (!(await verifyJwsSignature(alg, key, `${h}.${p}`, Buffer.from(s, 'base64url'))))
        return refuse('bad_signature');
      const claims = checkProofClaims(payload, {
        method: expected.method,
        uri: expected.uri,
        nowSec: clock.nowMs() / 1000,
        windowSec: opts.windowSec,
        ath: expected.accessToken === undefined ? undefined : accessTokenHash(expected.accessToken),
        nonce: expected.requireNonce ? isCurrentNonce : undefined,
      });
      if (!claims.ok) return claims;
      return { ok: true, jkt: jwkThumbprint(jwk), jti: claims.jti, iat: claims.iat };
    },
  };
}

/** The proof key as node:crypto takes it; undefined for one it cannot read or an RSA key too small. */
function publicKeyOf(jwk: DpopJwk): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: { ...jwk }, format: 'jwk' });
    if (key.type !== 'public') return undefined;
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (jwk.kty === 'RSA' && !(bits !== undefined && bits >= MIN_RSA_BITS)) return undefined;
    return key;
  } catch {
    return undefined;
  }
}
