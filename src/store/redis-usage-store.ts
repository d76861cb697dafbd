// Usage on the request path: per-grant call and denial counters, the agent's used actions, step progress.
import type { Redis } from 'ioredis';
import type { GrantStatus } from '../domain/grant.ts';
import type { EvaluationState, UsageStore } from '../domain/ports.ts';
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
  const minute = (s: number) => Math.floor(s / 60);
  const hour = (s: number) => Math.floor(s / 3600);

  return {
    readForEvaluation: (grantId, jti, clientId, action, nowSec) =>
      guard(async () => {
        const reply = await r.mandateReadForEvaluation(
          keys.grant(grantId),
          keys.grantData(grantId),
          keys.grantRevokedJtis(grantId),
          keys.grantSignals(grantId),
          keys.grantCalls(grantId, minute(nowSec)),
          keys.grantDenied(grantId, hour(nowSec)),
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
        const denied = keys.grantDenied(grantId, hour(nowSec));
        const replies = await redis.pipeline().incr(denied).expire(denied, HOUR_KEY_TTL_SEC).exec();
        return Number(replies?.[0]?.[1] ?? 0);
      }),

    countersOf: (ids, nowSec) =>
      guard(async () => {
        if (!ids.length) return [];
        const p = redis.pipeline();
        for (const id of ids) p.get(keys.grantCalls(id, minute(nowSec))).get(keys.grantDenied(id, hour(nowSec)));
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
