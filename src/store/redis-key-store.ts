// Signing keys in Redis, shared by every broker process: one JSON record per kid plus the active kid.
import type { Redis } from 'ioredis';
import type { KeyRecord, KeyStore } from '../domain/key-store.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';

/** KEYS: 1 keys hash. ARGV: 1 kid, 2 record JSON. Makes the key active unless one already is. Returns the active kid. */
const ENSURE_SCRIPT = `
local active = redis.call('HGET', KEYS[1], 'active')
if active then return active end
redis.call('HSET', KEYS[1], 'k:' .. ARGV[1], ARGV[2], 'active', ARGV[1])
return ARGV[1]
`;

/**
 * KEYS: 1 keys hash. ARGV: 1 expected active kid, 2 new kid, 3 new record JSON, 4 now, 5 remove_after.
 * Retires the active key (kept for verification until remove_after) and activates the new one,
 * only if the active key is still the expected one (two processes rotating at once rotate once).
 * Returns the active kid afterwards.
 */
const ROTATE_SCRIPT = `
local active = redis.call('HGET', KEYS[1], 'active')
if active ~= ARGV[1] then return active end
local raw = redis.call('HGET', KEYS[1], 'k:' .. active)
if raw then
  local old = cjson.decode(raw)
  old.retired_at = tonumber(ARGV[4])
  old.remove_after = tonumber(ARGV[5])
  redis.call('HSET', KEYS[1], 'k:' .. active, cjson.encode(old))
end
redis.call('HSET', KEYS[1], 'k:' .. ARGV[2], ARGV[3], 'active', ARGV[2])
return ARGV[2]
`;

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

export function createRedisKeyStore(redis: Redis, keys: KeyNames): KeyStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateEnsureKey !== 'function') {
    r.defineCommand('mandateEnsureKey', { numberOfKeys: 1, lua: ENSURE_SCRIPT });
    r.defineCommand('mandateRotateKey', { numberOfKeys: 1, lua: ROTATE_SCRIPT });
  }
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
