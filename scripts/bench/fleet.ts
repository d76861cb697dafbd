// The realistic fleet: live grants over many agents and resources, seeded through the store's own write path, and the Zipf token reuse the realistic-mix scenarios draw from.
import { createPrivateKey, type KeyObject, randomBytes, sign } from 'node:crypto';
import { Redis } from 'ioredis';
import { derToJose } from '../../src/crypto/ecdsa-signature.ts';
import { tokenDigest } from '../../src/crypto/token-digest.ts';
import {
  type AccessTokenClaims,
  formatRefreshToken,
  jtiFor,
} from '../../src/domain/access-token.ts';
import type { Grant } from '../../src/domain/grant.ts';
import type { KeyRecord } from '../../src/domain/key-store.ts';
import { hashSecret } from '../../src/services/authenticate-client.ts';
import { createKeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog } from '../../src/store/redis-decision-log.ts';
import { createRedisGrantStore } from '../../src/store/redis-grant-store.ts';
import { createRedisKeyStore } from '../../src/store/redis-key-store.ts';
import { registerClient } from './broker-processes.ts';
import { benchGrant, storeMintedGrant } from './seed-grant.ts';

/** The fleet's shape (BENCH_FLEET_GRANTS, BENCH_FLEET_AGENTS, BENCH_FLEET_RESOURCES). */
export const FLEET = {
  grants: Number(process.env.BENCH_FLEET_GRANTS ?? 25_000),
  agents: Number(process.env.BENCH_FLEET_AGENTS ?? 500),
  resources: Number(process.env.BENCH_FLEET_RESOURCES ?? 20),
};

/** Seconds a seeded token lives: the default access-token lifetime. */
export const FLEET_TOKEN_TTL_SEC = 300;

export interface FleetClients {
  readonly agents: ReadonlyArray<{ readonly id: string; readonly auth: string }>;
  readonly resources: ReadonlyArray<{ readonly location: string; readonly auth: string }>;
}

/** One seeded grant with its live token and unused refresh token. */
export interface FleetGrant {
  readonly token: string;
  readonly jti: string;
  readonly agent: number;
  readonly resource: number;
  readonly refreshToken: string;
}

const resourceLocation = (i: number) => `https://r${i}.fleet.example.com`;
const CONCURRENCY = 16;

/** Registers the fleet's agents and resources (each resource client serves one location). */
export async function registerFleetClients(
  baseUrl: string,
  adminToken: string,
): Promise<FleetClients> {
  const agents = await inParallel(FLEET.agents, async (i) => {
    const id = `fleet-agent-${i}`;
    return {
      id,
      auth: await registerClient(baseUrl, adminToken, { client_id: id, name: id, kind: 'agent' }),
    };
  });
  const resources = await inParallel(FLEET.resources, async (i) => {
    const location = resourceLocation(i);
    const auth = await registerClient(baseUrl, adminToken, {
      client_id: `fleet-rs-${i}`,
      name: `fleet resource ${i}`,
      kind: 'resource',
      resources: [location],
    });
    return { location, auth };
  });
  return { agents, resources };
}

/**
 * Stores `count` live grants the way a mint does (its mint record, then the grant with its first
 * token, refresh hash and token digest, through this checkout's decision log and grant store),
 * each with a token signed by the broker's active key: as fast as Redis takes them, not one HTTP
 * mint at a time. Grant `i` belongs to agent `i mod agents` and reads and writes resource
 * `(7i) mod resources`; grants and tokens end together, FLEET_TOKEN_TTL_SEC from now.
 */
export async function seedFleet(opts: {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly issuer: string;
  readonly clients: FleetClients;
  readonly count: number;
}): Promise<FleetGrant[]> {
  const redis = new Redis(opts.redisUrl, { enableAutoPipelining: true });
  try {
    const keys = createKeyNames(opts.prefix);
    const decisions = createRedisDecisionLog(redis, keys, { maxRecords: 1_000_000 });
    const grants = createRedisGrantStore(redis, keys);
    const signer = await activeSigner(createRedisKeyStore(redis, keys));
    const nowSec = Math.floor(Date.now() / 1000);
    const seeded: FleetGrant[] = [];
    for (let start = 0; start < opts.count; start += 1000) {
      const chunk = Array.from({ length: Math.min(1000, opts.count - start) }, (_, k) => start + k);
      seeded.push(
        ...(await Promise.all(
          chunk.map(async (i) => {
            const agent = i % opts.clients.agents.length;
            const resource = (i * 7) % opts.clients.resources.length;
            const grant = benchGrant(i, opts.clients.agents[agent]!.id, nowSec, {
              location: resourceLocation(resource),
              ttlSec: FLEET_TOKEN_TTL_SEC,
              taskPrefix: 'F',
              purpose: 'fleet task',
              ip: '203.0.113.9',
            });
            const jti = jtiFor(grant.id, randomBytes(12).toString('base64url'));
            const token = signer(claimsOf(grant, jti, opts.issuer, nowSec));
            const secret = randomBytes(32).toString('base64url');
            await storeMintedGrant(
              { decisions, grants },
              grant,
              { jti, exp: nowSec + FLEET_TOKEN_TTL_SEC, digest: tokenDigest(token) },
              hashSecret(secret),
            );
            return {
              token,
              jti,
              agent,
              resource,
              refreshToken: formatRefreshToken(grant.id, secret),
            };
          }),
        )),
      );
    }
    return seeded;
  } finally {
    redis.disconnect();
  }
}

/** The claims issue-access-token.ts gives a grant's token. */
function claimsOf(grant: Grant, jti: string, issuer: string, nowSec: number): AccessTokenClaims {
  return {
    iss: issuer,
    sub: grant.client_id,
    client_id: grant.client_id,
    aud: grant.granted[0]!.locations[0]!,
    iat: nowSec,
    exp: nowSec + FLEET_TOKEN_TTL_SEC,
    jti,
    grant_id: grant.id,
    scope: 'read write',
    authorization_details: grant.granted,
  };
}

/** Signs as the broker does, with its active ES256 key (read from its Redis). */
async function activeSigner(store: ReturnType<typeof createRedisKeyStore>) {
  const state = await store.load();
  const record = state.keys.find((k: KeyRecord) => k.kid === state.active);
  if (record?.alg !== 'ES256') throw new Error('the fleet seeds ES256 brokers only');
  const key: KeyObject = createPrivateKey({
    key: record.private_jwk,
    format: 'jwk',
  } as Parameters<typeof createPrivateKey>[0]);
  const header = Buffer.from(
    JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: record.kid }),
  ).toString('base64url');
  return (claims: AccessTokenClaims) => {
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${derToJose(sign('sha256', Buffer.from(input), key), 32).toString('base64url')}`;
  };
}

/**
 * Token reuse as a fleet shows it: a token is checked many times in its life, most often right
 * after it was minted. The tokens stand in mint order on a ring; a "front" (the newest) moves one
 * token on every `advanceEvery` picks, and each pick is the token `age` places behind the front,
 * `age` drawn from a Zipf law of exponent `s` over the ring (age 0 the most likely). Seeded, so
 * every build sees the same sequence.
 */
export function createZipfPicker(
  n: number,
  opts: { s?: number; advanceEvery?: number; seed?: number } = {},
): () => number {
  const s = opts.s ?? 1.1;
  const advanceEvery = opts.advanceEvery ?? 4;
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  const random = mulberry32(opts.seed ?? 23);
  let picks = 0;
  let front = 0;
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    const index = (front - lo + n) % n;
    if (++picks % advanceEvery === 0) front = (front + 1) % n;
    return index;
  };
}

/** A small seeded PRNG (mulberry32): the same picks on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function inParallel<T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await make(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  return out;
}
