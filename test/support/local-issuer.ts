// A local JWT issuer for tests: a key pair, its JWKS served over HTTP on a free loopback port, and a minter.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface LocalIssuer {
  /** The `iss` of its tokens (its own base URL). */
  readonly issuer: string;
  /** Where its JWKS is served. */
  readonly jwksUri: string;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  readonly privateKey: CryptoKey;
  readonly kid: string;
  /** How many times the JWKS was fetched. */
  readonly fetches: () => number;
  /** Signs `claims` (iat now, exp now + ttl unless given) with its key; `header` overrides the header. */
  mint(
    claims: Record<string, unknown>,
    opts?: { ttlSec?: number; header?: Record<string, unknown>; key?: CryptoKey },
  ): Promise<string>;
  /** Replaces the served JWKS body (e.g. an oversized document). */
  serve(body: string): void;
  close(): Promise<void>;
}

/** Starts an issuer signing with `alg` (default ES256) whose JWKS is served at http://127.0.0.1:<port>/jwks. */
export async function startLocalIssuer(
  opts: { alg?: 'ES256' | 'EdDSA' | 'RS256' | 'PS256'; kid?: string } = {},
): Promise<LocalIssuer> {
  const alg = opts.alg ?? 'ES256';
  const kid = opts.kid ?? `k-${randomUUID().slice(0, 8)}`;
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg };
  let body = JSON.stringify({ keys: [publicJwk] });
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches += 1;
    if (req.url !== '/jwks') {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer: base,
    jwksUri: `${base}/jwks`,
    publicJwk,
    privateJwk,
    privateKey: pair.privateKey,
    kid,
    fetches: () => fetches,
    mint(claims, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iat: now, exp: now + (o.ttlSec ?? 300), iss: base, ...claims })
        .setProtectedHeader({ alg, kid, typ: 'JWT', ...o.header })
        .sign(o.key ?? pair.privateKey);
    },
    serve(next) {
      body = next;
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** A private_key_jwt assertion for `clientId` at `audience`, with any claim or header changed. */
export function clientAssertion(
  issuer: LocalIssuer,
  clientId: string,
  audience: string,
  opts: {
    claims?: Record<string, unknown>;
    ttlSec?: number;
    header?: Record<string, unknown>;
    key?: CryptoKey;
  } = {},
): Promise<string> {
  return issuer.mint(
    { iss: clientId, sub: clientId, aud: audience, jti: randomUUID(), ...opts.claims },
    { ttlSec: opts.ttlSec ?? 60, header: opts.header, key: opts.key },
  );
}
