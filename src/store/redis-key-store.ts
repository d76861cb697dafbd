// Signing keys in Redis, shared by every broker process: one JSON record per kid plus the active kid.
import type { Redis } from 'ioredis';
import type { KeyRecord, KeyStore } from '../domain/key-store.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

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

export function createRedisKeyStore(redis: RedisClient, keys: KeyNames): KeyStore {
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
