// Usage on the request path: per-grant call and denial counters, the agent's used actions, step progress.
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GrantStatus } from '../domain/grant.ts';
import { type CountRange, hourOf, minuteOf } from '../domain/policy-facts.ts';
import type { EvaluationGuard, EvaluationState, UsageStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { decodeData } from './redis-grant-store.ts';
import { guard } from './redis-connection.ts';

const MINUTE_KEY_TTL_SEC = 120;
const HOUR_KEY_TTL_SEC = 7200;
const USED_ACTIONS_TTL_SEC = 90 * 86_400;

/** KEYS: 1 step key. ARGV: 1 new index, 2 expire-at. Moves the step forward only. */
const ADVANCE_STEP_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2]) end
return 1
`;

/**
 * One round trip per evaluation: the grant, its revoked jtis and signals, and the usage counters,
 * counting this call. Nothing is counted for a grant that does not exist.
 * KEYS: 1 grant hash, 2 grant data, 3 revoked jtis, 4 signals, 5 calls this minute, 6 denials this
 * hour, 7 the agent's used actions, 8 step. ARGV: 1 jti, 2 action, 3 minute key ttl, 4 used-actions ttl.
 * Returns false, or {s, e, c, t, v, data, jti revoked, signals, calls, denied, action used, step}.
 */
/**
 * Lua for the decision log's append script (see EvaluationGuard): `guard_holds(grant hash key, a)`
 * with the guard's GUARD_ARG_COUNT fields from ARGV[a] (see guardArgs). Counts the call when the
 * guard holds; writes nothing when it does not. The digest is stateDigest's, computed by Redis.
 */
export const EVALUATION_GUARD_LUA = `
local function within(n, min, max)
  return (min == '' or n >= tonumber(min)) and (max == '' or n <= tonumber(max))
end
local function guard_holds(gk, a)
  local g = redis.call('HMGET', gk, 's', 'e', 'v')
  if g[1] ~= 'active' or g[2] ~= ARGV[a + 8] or (g[3] or '0') ~= ARGV[a + 9] then return false end
  if redis.call('SISMEMBER', ARGV[a + 2], ARGV[a + 6]) == 1 then return false end
  local data = redis.call('GET', ARGV[a])
  if not data then return false end
  local signals = redis.call('LRANGE', ARGV[a + 1], 0, -1)
  if redis.sha1hex(data .. '\\n' .. table.concat(signals, '\\n')) ~= ARGV[a + 10] then return false end
  local calls = tonumber(redis.call('GET', ARGV[a + 3]) or '0') + 1
  local denied = tonumber(redis.call('GET', ARGV[a + 4]) or '0')
  if not (within(calls, ARGV[a + 11], ARGV[a + 12]) and within(denied, ARGV[a + 13], ARGV[a + 14])) then return false end
  if redis.call('SISMEMBER', ARGV[a + 5], ARGV[a + 7]) == 0 then return false end
  if redis.call('INCR', ARGV[a + 3]) == 1 then redis.call('EXPIRE', ARGV[a + 3], ARGV[a + 15]) end
  redis.call('EXPIRE', ARGV[a + 5], ARGV[a + 16])
  return true
end
`;
export const GUARD_ARG_COUNT = 17;

/** The guard's fields for EVALUATION_GUARD_LUA, in its order. */
export function guardArgs(keys: KeyNames, g: EvaluationGuard): string[] {
  const bound = (n: number | undefined) => (n === undefined ? '' : String(n));
  const range = (r: CountRange) => [bound(r.min), bound(r.max)];
  return [
    keys.grantData(g.grantId),
    keys.grantSignals(g.grantId),
    keys.grantRevokedJtis(g.grantId),
    keys.grantCalls(g.grantId, minuteOf(g.nowSec)),
    keys.grantDenied(g.grantId, hourOf(g.nowSec)),
    keys.usedActions(g.clientId),
    g.jti,
    g.action,
    String(g.expiresAt),
    String(g.policyVersion),
    g.digest,
    ...range(g.calls),
    ...range(g.denied),
    String(MINUTE_KEY_TTL_SEC),
    String(USED_ACTIONS_TTL_SEC),
  ];
}

/** Identifies a grant's data and signals as stored (SHA-1: Redis scripts compute it too, and it only tells states apart). */
export function stateDigest(data: string, signals: readonly string[]): string {
  return hash('sha1', `${data}\n${signals.join('\n')}`, 'hex');
}

const READ_FOR_EVALUATION_SCRIPT = `
local g = redis.call('HMGET', KEYS[1], 's', 'e', 'c', 't', 'v')
local data = redis.call('GET', KEYS[2])
if not (g[1] and g[2] and g[3] and g[4] and data) then return false end
local calls = redis.call('INCR', KEYS[5])
if calls == 1 then redis.call('EXPIRE', KEYS[5], ARGV[3]) end
local used = redis.call('SISMEMBER', KEYS[7], ARGV[2])
-- Used actions are remembered for a while after their last use, not their first.
if used == 1 then redis.call('EXPIRE', KEYS[7], ARGV[4]) end
return {g[1], g[2], g[3], g[4], g[5], data, redis.call('SISMEMBER', KEYS[3], ARGV[1]),
  redis.call('LRANGE', KEYS[4], 0, -1), calls, redis.call('GET', KEYS[6]), used, redis.call('GET', KEYS[8])}
`;

type EvaluationReply = [string, string, string, string, string | null, string, number, string[], number, string | null, number, string | null];

interface ScriptedRedis extends Redis {
  mandateAdvanceStep(key: string, index: string, exat: string): Promise<number>;
  mandateReadForEvaluation(...args: string[]): Promise<EvaluationReply | null>;
}

export function createRedisUsageStore(redis: Redis, keys: KeyNames): UsageStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateAdvanceStep !== 'function') r.defineCommand('mandateAdvanceStep', { numberOfKeys: 1, lua: ADVANCE_STEP_SCRIPT });
  if (typeof r.mandateReadForEvaluation !== 'function') r.defineCommand('mandateReadForEvaluation', { numberOfKeys: 8, lua: READ_FOR_EVALUATION_SCRIPT });

  return {
    readForEvaluation: (grantId, jti, clientId, action, nowSec) =>
      guard(async () => {
        const reply = await r.mandateReadForEvaluation(
          keys.grant(grantId),
          keys.grantData(grantId),
          keys.grantRevokedJtis(grantId),
          keys.grantSignals(grantId),
          keys.grantCalls(grantId, minuteOf(nowSec)),
          keys.grantDenied(grantId, hourOf(nowSec)),
          keys.usedActions(clientId),
          keys.grantStep(grantId),
          jti,
          action,
          String(MINUTE_KEY_TTL_SEC),
          String(USED_ACTIONS_TTL_SEC),
        );
        if (!reply) return undefined;
        const [s, e, c, t, ver, d, revoked, signals, calls, denied, used, step] = reply;
        return {
          status: s as GrantStatus,
          expires_at: Number(e),
          client_id: c,
          grant: { ...decodeData(d), id: grantId, client_id: c, task_id: t, expires_at: Number(e), policy_version: Number(ver ?? 0) },
          jtiRevoked: revoked === 1,
          signals: signals.map((x) => JSON.parse(x) as EvaluationState['signals'][number]),
          callsLastMinute: Number(calls),
          deniedLastHour: Number(denied ?? 0),
          actionUsedBefore: used === 1,
          lastStep: step === null ? -1 : Number(step),
          digest: stateDigest(d, signals),
        };
      }),

    recordOutcome: ({ grantId, clientId, action, allowed, newAction, step, expiresAt, nowSec }) =>
      guard(async () => {
        if (allowed) {
          if (!newAction && step === undefined) return 0;
          const p = redis.pipeline();
          if (newAction) p.sadd(keys.usedActions(clientId), action).expire(keys.usedActions(clientId), USED_ACTIONS_TTL_SEC);
          if (step !== undefined) p.mandateAdvanceStep(keys.grantStep(grantId), String(step), String(expiresAt));
          await p.exec();
          return 0;
        }
        const denied = keys.grantDenied(grantId, hourOf(nowSec));
        const replies = await redis.pipeline().incr(denied).expire(denied, HOUR_KEY_TTL_SEC).exec();
        return Number(replies?.[0]?.[1] ?? 0);
      }),

    countersOf: (ids, nowSec) =>
      guard(async () => {
        if (!ids.length) return [];
        const p = redis.pipeline();
        for (const id of ids) p.get(keys.grantCalls(id, minuteOf(nowSec))).get(keys.grantDenied(id, hourOf(nowSec)));
        const replies = (await p.exec()) ?? [];
        return ids.map((_, i) => ({ calls: Number(replies[i * 2]?.[1] ?? 0), denied: Number(replies[i * 2 + 1]?.[1] ?? 0) }));
      }),
  };
}

declare module 'ioredis' {
  interface ChainableCommander {
    mandateAdvanceStep(key: string, index: string, exat: string): ChainableCommander;
  }
}
