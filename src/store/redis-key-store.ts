// Signing keys in Redis, shared by every broker process: one JSON record per kid plus the active kid.
import type { Redis } from 'ioredis';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

/** A signing key as stored. The private JWK never leaves the broker (nor this hash). */
export interface KeyRecord {
  readonly kid: string;
  readonly alg: string;
  readonly private_jwk: Record<string, unknown>;
  readonly public_jwk: Record<string, unknown>;
  /** Epoch seconds. */
  readonly created_at: number;
  /** Epoch seconds: when a newer key took over signing. */
  readonly retired_at?: number;
  /** Epoch seconds: after this no token it signed can be valid; the key is dropped. */
  readonly remove_after?: number;
}

interface ScriptedRedis extends Redis {
  mandateEnsureKey(key: string, kid: string, json: string): Promise<string>;
  mandateRotateKey(
    key: string,
    expected: string,
    kid: string,
    json: string,
    now: string,
    removeAfter: string,
  ): Promise<string>;
}

export interface KeyStore {
  /** Every stored key and the active kid. */
  load(): Promise<{ active: string | undefined; keys: KeyRecord[] }>;
  ensureActive(record: KeyRecord): Promise<string>;
  rotate(
    expectedKid: string,
    record: KeyRecord,
    nowSec: number,
    removeAfterSec: number,
  ): Promise<string>;
  /** Drops keys whose remove_after has passed. */
  prune(nowSec: number): Promise<number>;
}

export function createRedisKeyStore(redis: Redis, keys: KeyNames): KeyStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'ensureKey', 'rotateKey');
  const load = () =>
    guard(async () => {
      const all = await redis.hgetall(keys.keys);
      const records = Object.entries(all)
        .filter(([f]) => f.startsWith('k:'))
        .map(([, v]) => JSON.parse(v) as KeyRecord);
      return { active: all.active, keys: records };
    });
  return {
    load,
    ensureActive: (record) =>
      guard(() => r.mandateEnsureKey(keys.keys, record.kid, JSON.stringify(record))),
    rotate: (expectedKid, record, nowSec, removeAfterSec) =>
      guard(() =>
        r.mandateRotateKey(
          keys.keys,
          expectedKid,
          record.kid,
          JSON.stringify(record),
          String(nowSec),
          String(removeAfterSec),
        ),
      ),
    prune: async (nowSec) => {
      const { active, keys: records } = await load();
      const stale = records.filter(
        (k) => k.kid !== active && k.remove_after !== undefined && k.remove_after < nowSec,
      );
      if (stale.length) await guard(() => redis.hdel(keys.keys, ...stale.map((k) => `k:${k.kid}`)));
      return stale.length;
    },
  };
}
