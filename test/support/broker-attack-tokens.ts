// The attack-token catalogue aimed at a running test broker: forged with its real key where only one property is wrong.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { JWK } from 'jose';
import { type AttackToken, buildAttackTokens, rawEs256Signer } from './attack-tokens.ts';
import { CRM } from './broker.ts';
import type { TestBroker } from './test-broker.ts';

const decode = (seg: string) =>
  JSON.parse(Buffer.from(seg, 'base64url').toString()) as Record<string, unknown>;

export interface KeyUrlWatch {
  /** Where `jku` / `x5u` point. */
  readonly url: string;
  /** Paths requested so far: must stay empty. */
  readonly fetched: string[];
  close(): Promise<void>;
}

/** A local listener that records every request: a broker that fetches `jku`/`x5u` shows up here. */
export async function watchKeyUrl(): Promise<KeyUrlWatch> {
  const fetched: string[] = [];
  const server = createServer((req, res) => {
    fetched.push(req.url ?? '');
    res.end('{"keys":[]}');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return { url, fetched, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/**
 * Builds the catalogue from `validToken`, re-signing claim and header variants with the broker's
 * own private key (white-box: read from its Redis), exactly as the introspection suite does.
 */
export async function brokerAttackTokens(
  broker: TestBroker,
  validToken: string,
  keyUrl: string,
): Promise<AttackToken[]> {
  const [h, p] = validToken.split('.') as [string, string];
  const kid = decode(h).kid as string;
  const jwks = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as {
    keys: JWK[];
  };
  const publicJwk = jwks.keys.find((k) => k.kid === kid);
  if (!publicJwk) throw new Error(`kid ${kid} is not in the JWKS`);
  const redis = new Redis(broker.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let stored: { private_jwk: JWK };
  try {
    stored = JSON.parse((await redis.hget(`${broker.prefix}keys`, `k:${kid}`)) as string) as {
      private_jwk: JWK;
    };
  } finally {
    redis.disconnect();
  }
  return buildAttackTokens({
    validToken,
    publicJwk,
    issuer: broker.issuer,
    audience: CRM,
    claims: decode(p),
    keyUrl,
    resign: rawEs256Signer(stored.private_jwk),
    clockToleranceSec: broker.mandate.deps.loaded.config.tokens.clock_tolerance,
  });
}
