// Usage on the request path: per-grant call and denial counters, the agent's used actions, step progress.
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GrantStatus } from '../domain/grant.ts';
import {
  CALLS_WINDOW,
  type CountRange,
  DENIED_WINDOW,
  windowAt,
  windowCount,
  windowTtlSec,
} from '../domain/policy-facts.ts';
import type { EvaluationGuard, UsageStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';
import { decodeData, decodeSignalSummary } from './redis-grant-store.ts';

const CALLS_TTL_SEC = windowTtlSec(CALLS_WINDOW);
const DENIED_TTL_SEC = windowTtlSec(DENIED_WINDOW);
const USED_ACTIONS_TTL_SEC = 90 * 86_400;

/** Buckets a window spans at most: past this many, a count re-sums the hash rather than walk bucket by bucket. */
const WINDOW_SPAN = Math.max(CALLS_WINDOW.buckets, DENIED_WINDOW.buckets);

/**
 * Lua for trailing windows (see UsageWindow): a window is a hash of bucket -> count, plus `n`, the
 * sum of the buckets from `o` on. `window_count(key, oldest)` answers the sum from bucket `oldest`
 * on (as windowCount does) by subtracting the buckets that left the window since `o`, which it
 * lists as stale; `window_add(key, bucket, w, ttl)` counts one event, stores the new sum and `o`,
 * drops the stale buckets and keeps the hash `ttl` s more. A call reads two fields and walks only
 * the buckets that left since the last call (one a second at most, amortised), so it costs the
 * same at any call rate and in any number of buckets; no call is stored on its own. A hash whose
 * `o` lies more than a window behind (only after a clock jump: an idle hash expires first) is
 * summed afresh. The hash's expiry is set when a bucket starts, a window past that bucket.
 */
const WINDOW_LUA = `
local function window_count(key, oldest)
  local meta = redis.call('HMGET', key, 'n', 'o')
  local n, lo = tonumber(meta[1]), tonumber(meta[2])
  local stale = {}
  -- No sum: the window holds nothing (every writer of this hash writes n and o with its buckets).
  if n == nil or lo == nil then n, lo = 0, oldest end
  if lo < oldest then
    if oldest - lo > ${WINDOW_SPAN} then
      n = 0
      local fields = redis.call('HGETALL', key)
      for i = 1, #fields, 2 do
        local b = tonumber(fields[i])
        if b then
          if b >= oldest then n = n + tonumber(fields[i + 1]) else stale[#stale + 1] = fields[i] end
        end
      end
    else
      for b = lo, oldest - 1 do
        local field = string.format('%d', b)
        local c = redis.call('HGET', key, field)
        if c then
          n = n - tonumber(c)
          stale[#stale + 1] = field
        end
      end
    end
    lo = oldest
  end
  return n, {n = n, lo = lo, stale = stale}
end
local function window_add(key, bucket, w, ttl)
  -- An event dated before the window's start (a process whose clock lags) counts in its oldest bucket.
  local b = tonumber(bucket)
  if b < w.lo then b = w.lo end
  local fresh = redis.call('HINCRBY', key, string.format('%d', b), 1) == 1
  redis.call('HSET', key, 'n', w.n + 1, 'o', string.format('%d', w.lo))
  if #w.stale > 0 then redis.call('HDEL', key, unpack(w.stale)) end
  -- The hash lives a window past its newest bucket: set when a bucket is started, not on every event.
  if fresh then redis.call('EXPIRE', key, ttl) end
end
`;

/** KEYS: 1 step key. ARGV: 1 new index, 2 expire-at. Moves the step forward only. */
const ADVANCE_STEP_SCRIPT = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2]) end
return 1
`;

/**
 * Lua for the decision log's append script (see EvaluationGuard): `guard_holds(grant hash key, a)`
 * with the guard's GUARD_ARG_COUNT fields from ARGV[a] (see guardArgs). Counts the call when the
 * guard holds; writes nothing when it does not. The digest is stateDigest's, computed by Redis;
 * the counts are the trailing windows' (WINDOW_LUA), as readForEvaluation computes them.
 */
export const EVALUATION_GUARD_LUA = `${WINDOW_LUA}
local function within(n, min, max)
  return (min == '' or n >= tonumber(min)) and (max == '' or n <= tonumber(max))
end
local function guard_holds(gk, a)
  local g = redis.call('HMGET', gk, 's', 'e', 'v')
  if g[1] ~= 'active' or g[2] ~= ARGV[a + 8] or (g[3] or '0') ~= ARGV[a + 9] then return false end
  if redis.call('SISMEMBER', ARGV[a + 2], ARGV[a + 6]) == 1 then return false end
  local data = redis.call('GET', ARGV[a])
  if not data then return false end
  -- The signal summary (bounded, versioned), not the signal history: see SignalSummary.
  local signals = redis.call('GET', ARGV[a + 1]) or ''
  if redis.sha1hex(data .. '\\n' .. signals) ~= ARGV[a + 10] then return false end
  local calls, calls_w = window_count(ARGV[a + 3], tonumber(ARGV[a + 18]))
  local denied = window_count(ARGV[a + 4], tonumber(ARGV[a + 19]))
  calls = calls + 1
  if not (within(calls, ARGV[a + 11], ARGV[a + 12]) and within(denied, ARGV[a + 13], ARGV[a + 14])) then return false end
  if redis.call('SISMEMBER', ARGV[a + 5], ARGV[a + 7]) == 0 then return false end
  window_add(ARGV[a + 3], ARGV[a + 17], calls_w, ARGV[a + 15])
  redis.call('EXPIRE', ARGV[a + 5], ARGV[a + 16])
  return true
end
`;
export const GUARD_ARG_COUNT = 20;

/** The guard's fields for EVALUATION_GUARD_LUA, in its order. */
export function guardArgs(keys: KeyNames, g: EvaluationGuard): string[] {
  const bound = (n: number | undefined) => (n === undefined ? '' : String(n));
  const range = (r: CountRange) => [bound(r.min), bound(r.max)];
  const calls = windowAt(CALLS_WINDOW, g.nowSec);
  return [
    keys.grantData(g.grantId),
    keys.grantSignalSummary(g.grantId),
    keys.grantRevokedJtis(g.grantId),
    keys.grantCalls(g.grantId),
    keys.grantDenied(g.grantId),
    keys.usedActions(g.clientId),
    g.jti,
    g.action,
    String(g.expiresAt),
    String(g.policyVersion),
    g.digest,
    ...range(g.calls),
    ...range(g.denied),
    String(CALLS_TTL_SEC),
    String(USED_ACTIONS_TTL_SEC),
    String(calls.bucket),
    String(calls.oldest),
    String(windowAt(DENIED_WINDOW, g.nowSec).oldest),
  ];
}

/**
 * Identifies a grant's data and signal summary as stored (SHA-1: Redis scripts compute it too, and
 * it only tells states apart). The summary is bounded and carries a version counted up by every
 * signal, so this never hashes a grant's signal history.
 */
export function stateDigest(data: string, signalSummary: string): string {
  return hash('sha1', `${data}\n${signalSummary}`, 'hex');
}

/**
 * One round trip per evaluation: the grant, its revoked jtis and signals, and the usage counters,
 * counting this call. Nothing is counted for a grant that does not exist.
 * KEYS: 1 grant hash, 2 grant data, 3 revoked jtis, 4 signal summary, 5 calls window, 6 denials window,
 * 7 the agent's used actions, 8 step. ARGV: 1 jti, 2 action, 3 calls window ttl, 4 used-actions
 * ttl, 5 this call's bucket, 6 the oldest calls bucket counted, 7 the oldest denials bucket counted.
 * Returns false, or {s, e, c, t, v, data, jti revoked, signal summary or '', calls, denied, action used, step}.
 */
const READ_FOR_EVALUATION_SCRIPT = `${WINDOW_LUA}
local g = redis.call('HMGET', KEYS[1], 's', 'e', 'c', 't', 'v')
local data = redis.call('GET', KEYS[2])
if not (g[1] and g[2] and g[3] and g[4] and data) then return false end
local calls, calls_w = window_count(KEYS[5], tonumber(ARGV[6]))
window_add(KEYS[5], ARGV[5], calls_w, ARGV[3])
local denied = window_count(KEYS[6], tonumber(ARGV[7]))
local used = redis.call('SISMEMBER', KEYS[7], ARGV[2])
-- Used actions are remembered for a while after their last use, not their first.
if used == 1 then redis.call('EXPIRE', KEYS[7], ARGV[4]) end
return {g[1], g[2], g[3], g[4], g[5], data, redis.call('SISMEMBER', KEYS[3], ARGV[1]),
  redis.call('GET', KEYS[4]) or '', calls + 1, denied, used, redis.call('GET', KEYS[8])}
`;

/**
 * Counts one denial and answers the trailing hour's denials, this one included.
 * KEYS: 1 denials window. ARGV: 1 this denial's bucket, 2 the oldest bucket counted, 3 ttl.
 */
const COUNT_DENIAL_SCRIPT = `${WINDOW_LUA}
local denied, denied_w = window_count(KEYS[1], tonumber(ARGV[2]))
window_add(KEYS[1], ARGV[1], denied_w, ARGV[3])
return denied + 1
`;

type EvaluationReply = [
  string,
  string,
  string,
  string,
  string | null,
  string,
  number,
  string,
  number,
  number,
  number,
  string | null,
];

interface ScriptedRedis extends Redis {
  mandateAdvanceStep(key: string, index: string, exat: string): Promise<number>;
  mandateReadForEvaluation(...args: string[]): Promise<EvaluationReply | null>;
  mandateCountDenial(key: string, bucket: string, oldest: string, ttl: string): Promise<number>;
}

export function createRedisUsageStore(redis: Redis, keys: KeyNames): UsageStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateAdvanceStep !== 'function')
    r.defineCommand('mandateAdvanceStep', { numberOfKeys: 1, lua: ADVANCE_STEP_SCRIPT });
  if (typeof r.mandateReadForEvaluation !== 'function')
    r.defineCommand('mandateReadForEvaluation', {
      numberOfKeys: 8,
      lua: READ_FOR_EVALUATION_SCRIPT,
    });
  if (typeof r.mandateCountDenial !== 'function')
    r.defineCommand('mandateCountDenial', { numberOfKeys: 1, lua: COUNT_DENIAL_SCRIPT });

  return {
    readForEvaluation: (grantId, jti, clientId, action, nowSec) =>
      guard(async () => {
        const window = windowAt(CALLS_WINDOW, nowSec);
        const reply = await r.mandateReadForEvaluation(
          keys.grant(grantId),
          keys.grantData(grantId),
          keys.grantRevokedJtis(grantId),
          keys.grantSignalSummary(grantId),
          keys.grantCalls(grantId),
          keys.grantDenied(grantId),
          keys.usedActions(clientId),
          keys.grantStep(grantId),
          jti,
          action,
          String(CALLS_TTL_SEC),
          String(USED_ACTIONS_TTL_SEC),
          String(window.bucket),
          String(window.oldest),
          String(windowAt(DENIED_WINDOW, nowSec).oldest),
        );
        if (!reply) return undefined;
        const [s, e, c, t, ver, d, revoked, signals, calls, denied, used, step] = reply;
        return {
          status: s as GrantStatus,
          expires_at: Number(e),
          client_id: c,
          grant: {
            ...decodeData(d),
            id: grantId,
            client_id: c,
            task_id: t,
            expires_at: Number(e),
            policy_version: Number(ver ?? 0),
          },
          jtiRevoked: revoked === 1,
          signals: decodeSignalSummary(signals),
          callsLastMinute: Number(calls),
          deniedLastHour: Number(denied),
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
          if (newAction)
            p.sadd(keys.usedActions(clientId), action).expire(
              keys.usedActions(clientId),
              USED_ACTIONS_TTL_SEC,
            );
          if (step !== undefined)
            p.mandateAdvanceStep(keys.grantStep(grantId), String(step), String(expiresAt));
          await p.exec();
          return 0;
        }
        const { bucket, oldest } = windowAt(DENIED_WINDOW, nowSec);
        return Number(
          await r.mandateCountDenial(
            keys.grantDenied(grantId),
            String(bucket),
            String(oldest),
            String(DENIED_TTL_SEC),
          ),
        );
      }),

    countersOf: (ids, nowSec) =>
      guard(async () => {
        if (!ids.length) return [];
        const p = redis.pipeline();
        for (const id of ids) p.hgetall(keys.grantCalls(id)).hgetall(keys.grantDenied(id));
        const replies = (await p.exec()) ?? [];
        const count = (i: number, oldest: number) => {
          const [err, buckets] = replies[i] ?? [new Error('no reply')];
          if (err) throw err;
          return windowCount((buckets ?? {}) as Record<string, string>, oldest);
        };
        const calls = windowAt(CALLS_WINDOW, nowSec).oldest;
        const denied = windowAt(DENIED_WINDOW, nowSec).oldest;
        return ids.map((_, i) => ({
          calls: count(i * 2, calls),
          denied: count(i * 2 + 1, denied),
        }));
      }),

    usedActionsOf: (queries) =>
      guard(async () => {
        const asked = queries.filter((q) => q.actions.length > 0);
        if (!asked.length) return queries.map(() => new Set<string>());
        const p = redis.pipeline();
        for (const q of asked) p.smismember(keys.usedActions(q.clientId), ...q.actions);
        const replies = (await p.exec()) ?? [];
        const used = new Map<(typeof queries)[number], Set<string>>();
        asked.forEach((q, i) => {
          const [err, flags] = replies[i] ?? [new Error('no reply')];
          // A history that cannot be read is no history: the decision waits for it (fails closed).
          if (err) throw err;
          used.set(q, new Set(q.actions.filter((_, j) => (flags as number[])[j] === 1)));
        });
        return queries.map((q) => used.get(q) ?? new Set<string>());
      }),
  };
}

declare module 'ioredis' {
  interface ChainableCommander {
    mandateAdvanceStep(key: string, index: string, exat: string): ChainableCommander;
  }
}
