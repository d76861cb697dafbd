// Trusted issuers (workload identity federation) in two Redis hashes of one slot: id -> iss, iss -> entry JSON.
import type { Redis } from 'ioredis';
import type { TrustedIssuer, TrustedIssuerStore } from '../domain/trusted-issuer.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

interface ScriptedRedis extends Redis {
  mandateTrustedIssuerCreate(
    k1: string,
    k2: string,
    id: string,
    iss: string,
    json: string,
  ): Promise<'created' | 'id_taken' | 'issuer_taken'>;
  mandateTrustedIssuerPut(
    k1: string,
    k2: string,
    id: string,
    iss: string,
    json: string,
  ): Promise<number>;
  mandateTrustedIssuerDelete(k1: string, k2: string, id: string): Promise<number>;
}

export function createRedisTrustedIssuers(redis: RedisClient, keys: KeyNames): TrustedIssuerStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'trustedIssuerCreate', 'trustedIssuerPut', 'trustedIssuerDelete');
  const { trustedIssuerIds: ids, trustedIssuersByIssuer: byIssuer } = keys;
  const parse = (raw: string) => JSON.parse(raw) as TrustedIssuer;
  return {
    list: () =>
      guard(async () =>
        Object.values(await redis.hgetall(byIssuer))
          .map(parse)
          .sort((a, b) => a.id.localeCompare(b.id)),
      ),
    byIssuer: (issuer) =>
      guard(async () => {
        const raw = await redis.hget(byIssuer, issuer);
        return raw ? parse(raw) : undefined;
      }),
    create: (entry) =>
      guard(() =>
        r.mandateTrustedIssuerCreate(ids, byIssuer, entry.id, entry.issuer, JSON.stringify(entry)),
      ),
    put: (entry) =>
      guard(async () => {
        await r.mandateTrustedIssuerPut(
          ids,
          byIssuer,
          entry.id,
          entry.issuer,
          JSON.stringify(entry),
        );
      }),
    delete: (id) =>
      guard(async () => (await r.mandateTrustedIssuerDelete(ids, byIssuer, id)) === 1),
  };
}
