// DPoP proofs for the tests: a proof key, a valid proof for a request, and the catalogue of bad ones (RFC 9449 4.3).
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { type JosePart, type Resign, rawEs256Signer } from './attack-tokens.ts';

/** An EC P-256 proof key with its public JWK and thumbprint. */
export interface ProofKey {
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint: what a bound token's `cnf.jkt` holds. */
  readonly jkt: string;
  /** Signs exactly the given header and payload (ES256). */
  readonly sign: Resign;
}

export async function proofKey(): Promise<ProofKey> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = pair.publicKey.export({ format: 'jwk' }) as JWK;
  const publicJwk = { kty, crv, x, y } as JWK;
  return {
    privateKey: pair.privateKey,
    publicJwk,
    privateJwk: pair.privateKey.export({ format: 'jwk' }) as JWK,
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
    sign: rawEs256Signer(pair.privateKey),
  };
}

export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface ProofRequest {
  readonly method: string;
  readonly url: string;
  readonly accessToken?: string | undefined;
  readonly nonce?: string | undefined;
  /** Epoch s; default now. */
  readonly iat?: number | undefined;
}

/** The header and claims of a valid proof for the request. */
export function proofParts(key: ProofKey, req: ProofRequest) {
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk };
  const claims: Record<string, unknown> = {
    jti: randomBytes(12).toString('base64url'),
    htm: req.method,
    htu: req.url,
    iat: req.iat ?? Math.floor(Date.now() / 1000),
    ...(req.accessToken ? { ath: ath(req.accessToken) } : {}),
    ...(req.nonce ? { nonce: req.nonce } : {}),
  };
  return { header, claims };
}

/** A valid proof for the request, signed by `key`. */
export function makeProof(key: ProofKey, req: ProofRequest): Promise<string> {
  const { header, claims } = proofParts(key, req);
  return key.sign(header, claims);
}

const b64u = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
const text = (p: JosePart) => (typeof p === 'string' ? p : JSON.stringify(p));

export interface AttackProof {
  readonly name: string;
  readonly proof: string;
}

/**
 * Every way a proof for `req` may be wrong while everything else about the request is right.
 * Each must be refused with invalid_dpop_proof (never stored, never accepted). With
 * `req.accessToken` the `ath` variants join in.
 */
export async function buildAttackProofs(key: ProofKey, req: ProofRequest): Promise<AttackProof[]> {
  const { header, claims } = proofParts(key, req);
  const other = await proofKey();
  const out: AttackProof[] = [];
  const add = (name: string, proof: string) => out.push({ name, proof });
  const fresh = () => ({ ...claims, jti: randomBytes(12).toString('base64url') });
  const signed = (h: JosePart, c: JosePart) => key.sign(h, c);
  const now = Number(claims.iat);

  // Algorithms that are no signature at all, or a shared secret anyone holding the public key has.
  for (const alg of ['none', 'None', 'NONE']) {
    add(`alg-none:${alg}`, `${b64u(text({ ...header, alg }))}.${b64u(text(fresh()))}.`);
  }
  const hs = (secret: string | Buffer) => {
    const input = `${b64u(text({ ...header, alg: 'HS256' }))}.${b64u(text(fresh()))}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  add('alg-hs256:public-jwk', hs(JSON.stringify(key.publicJwk)));
  add('alg-hs256:x-coordinate', hs(Buffer.from(String(key.publicJwk.x), 'base64url')));
  add('alg-hs256:empty', hs(''));
  add('alg:ES384', await signed({ ...header, alg: 'ES384' }, fresh()));
  add('alg:missing', await signed({ typ: 'dpop+jwt', jwk: key.publicJwk }, fresh()));

  // typ: only dpop+jwt.
  add('typ:missing', await signed({ alg: 'ES256', jwk: key.publicJwk }, fresh()));
  add('typ:jwt', await signed({ ...header, typ: 'JWT' }, fresh()));
  add('typ:at+jwt', await signed({ ...header, typ: 'at+jwt' }, fresh()));
  add('typ:upper-case', await signed({ ...header, typ: 'DPOP+JWT' }, fresh()));

  // The key: missing, private, symmetric, of another type, or not the signer.
  add('jwk:missing', await signed({ alg: 'ES256', typ: 'dpop+jwt' }, fresh()));
  add('jwk:private-key', await signed({ ...header, jwk: key.privateJwk }, fresh()));
  add(
    'jwk:symmetric',
    await signed({ ...header, jwk: { kty: 'oct', k: b64u(randomBytes(32)) } }, fresh()),
  );
  add(
    'jwk:rsa-for-es256',
    await signed({ ...header, jwk: { kty: 'RSA', n: b64u(randomBytes(256)), e: 'AQAB' } }, fresh()),
  );
  add('jwk:string', await signed({ ...header, jwk: JSON.stringify(key.publicJwk) }, fresh()));
  add('jwk:kid-only', await signed({ alg: 'ES256', typ: 'dpop+jwt', kid: 'k1' }, fresh()));
  add('signature:other-key', await other.sign(header, fresh()));
  const good = await signed(header, fresh());
  const [h, p, s] = good.split('.') as [string, string, string];
  add('signature:stripped', `${h}.${p}.`);
  add('signature:truncated', `${h}.${p}.${s.slice(0, -4)}`);
  add('signature:zero', `${h}.${p}.${b64u(new Uint8Array(64))}`);
  add('signature:payload-swapped', `${h}.${b64u(text({ ...fresh(), htm: 'DELETE' }))}.${s}`);
  add('header:crit', await signed({ ...header, crit: ['x'], x: 1 }, fresh()));

  // The request it names.
  add(
    'htm:other',
    await signed(header, { ...fresh(), htm: req.method === 'GET' ? 'POST' : 'GET' }),
  );
  add('htm:lower-case', await signed(header, { ...fresh(), htm: req.method.toLowerCase() }));
  const url = new URL(req.url);
  add('htu:other-path', await signed(header, { ...fresh(), htu: `${url.origin}/elsewhere` }));
  add(
    'htu:other-host',
    await signed(header, { ...fresh(), htu: `https://attacker.invalid${url.pathname}` }),
  );
  add(
    'htu:other-scheme',
    await signed(header, { ...fresh(), htu: req.url.replace(/^https?:/, 'ftp:') }),
  );
  const swapped = req.url.startsWith('https:')
    ? req.url.replace(/^https:/, 'http:')
    : req.url.replace(/^http:/, 'https:');
  add('htu:swapped-scheme', await signed(header, { ...fresh(), htu: swapped }));
  add('htu:relative', await signed(header, { ...fresh(), htu: url.pathname }));

  // Time, identity, shape.
  add('iat:old', await signed(header, { ...fresh(), iat: now - 3600 }));
  add('iat:future', await signed(header, { ...fresh(), iat: now + 3600 }));
  add('iat:missing', await signed(header, { ...fresh(), iat: undefined }));
  add('iat:string', await signed(header, { ...fresh(), iat: String(now) }));
  add('jti:missing', await signed(header, { ...fresh(), jti: undefined }));
  add('jti:empty', await signed(header, { ...fresh(), jti: '' }));
  add('claims:array', await signed(header, JSON.stringify([fresh()])));
  add('claims:not-json', await signed(header, 'not json'));
  add('oversized', await signed(header, { ...fresh(), pad: 'A'.repeat(9000) }));
  add('several-proofs', `${await signed(header, fresh())}, ${await signed(header, fresh())}`);
  add('malformed:two-segments', `${h}.${p}`);
  add('malformed:not-a-jws', 'not-a-proof');
  add('malformed:header-not-json', `${b64u('nope')}.${p}.${s}`);
  add('malformed:whitespace', ' ');

  if (req.accessToken) {
    add('ath:missing', await signed(header, { ...fresh(), ath: undefined }));
    add('ath:other-token', await signed(header, { ...fresh(), ath: ath(`${req.accessToken}x`) }));
    add('ath:raw-token', await signed(header, { ...fresh(), ath: req.accessToken }));
  }
  return out;
}
