// The policy set in force, shared by every process: text and version in one Redis hash.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PolicyStore } from '../domain/policy-store.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';

/**
 * KEYS: 1 policy hash, 2 version counter. ARGV: 1 text, 2 sha256, 3 now, 4 '1' to store only when empty.
 * Returns the version in force afterwards.
 */
const PUT_SCRIPT = `
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return tonumber(redis.call('HGET', KEYS[1], 'version')) end
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'version', v, 'text', ARGV[1], 'sha256', ARGV[2], 'updated_at', ARGV[3])
return v
`;

interface ScriptedRedis extends Redis {
  mandatePutPolicy(
    policy: string,
    counter: string,
    text: string,
    sha: string,
    now: string,
    onlyIfEmpty: string,
  ): Promise<number>;
}

export function createRedisPolicyStore(redis: Redis, keys: KeyNames): PolicyStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandatePutPolicy !== 'function')
    r.defineCommand('mandatePutPolicy', { numberOfKeys: 2, lua: PUT_SCRIPT });
  const put = (text: string, nowSec: number, onlyIfEmpty: boolean) =>
    guard(async () => {
      const sha = createHash('sha256').update(text).digest('hex');
      return Number(
        await r.mandatePutPolicy(
          keys.policy,
          keys.policyVersion,
          text,
          sha,
          String(nowSec),
          onlyIfEmpty ? '1' : '0',
        ),
      );
    });
  return {
    get: () =>
      guard(async () => {
        const h = await redis.hgetall(keys.policy);
        if (!h.version || h.text === undefined) return undefined;
        return {
          version: Number(h.version),
          text: h.text,
          sha256: h.sha256 ?? '',
          updated_at: Number(h.updated_at ?? 0),
        };
      }),
    version: () => guard(async () => Number((await redis.hget(keys.policy, 'version')) ?? 0)),
    put: (text, nowSec) => put(text, nowSec, false),
    seed: (text, nowSec) => put(text, nowSec, true),
  };
}
