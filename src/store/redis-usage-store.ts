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

interface ScriptedRedis extends Redis {
  mandateAdvanceStep(key: string, index: string, exat: string): Promise<number>;
}

export function createRedisUsageStore(redis: Redis, keys: KeyNames): UsageStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateAdvanceStep !== 'function') r.defineCommand('mandateAdvanceStep', { numberOfKeys: 1, lua: ADVANCE_STEP_SCRIPT });
  const minute = (s: number) => Math.floor(s / 60);
  const hour = (s: number) => Math.floor(s / 3600);

  return {
    readForEvaluation: (grantId, jti, clientId, action, nowSec) =>
      guard(async () => {
        const calls = keys.grantCalls(grantId, minute(nowSec));
        const replies = await redis
          .pipeline()
          .hmget(keys.grant(grantId), 's', 'e', 'c', 't', 'v')
          .get(keys.grantData(grantId))
          .sismember(keys.grantRevokedJtis(grantId), jti)
          .lrange(keys.grantSignals(grantId), 0, -1)
          .incr(calls)
          .expire(calls, MINUTE_KEY_TTL_SEC)
          .get(keys.grantDenied(grantId, hour(nowSec)))
          .sismember(keys.usedActions(clientId), action)
          .get(keys.grantStep(grantId))
          .exec();
        if (!replies) throw new Error('pipeline aborted');
        const failed = replies.find(([err]) => err);
        if (failed) throw failed[0];
        const v = replies.map(([, value]) => value);
        const [s, e, c, t, ver] = v[0] as (string | null)[];
        const d = v[1] as string | null;
        if (!s || !e || !c || !t || !d) return undefined;
        return {
          status: s as GrantStatus,
          expires_at: Number(e),
          client_id: c,
          grant: { ...decodeData(d), id: grantId, client_id: c, task_id: t, expires_at: Number(e), policy_version: Number(ver ?? 0) },
          jtiRevoked: v[2] === 1,
          signals: (v[3] as string[]).map((x) => JSON.parse(x) as EvaluationState['signals'][number]),
          callsLastMinute: Number(v[4]),
          deniedLastHour: Number(v[6] ?? 0),
          actionUsedBefore: v[7] === 1,
          lastStep: v[8] === null ? -1 : Number(v[8]),
        };
      }),

    recordOutcome: (grantId, clientId, action, allowed, step, expiresAt, nowSec) =>
      guard(async () => {
        if (allowed) {
          const p = redis.pipeline().sadd(keys.usedActions(clientId), action).expire(keys.usedActions(clientId), USED_ACTIONS_TTL_SEC);
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
