// Usage counters read outside an evaluation: per-grant calls and denials, the agents' used actions.
import { CALLS_WINDOW, DENIED_WINDOW, windowAt, windowCount } from '../domain/policy-facts.ts';
import type { UsageStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';

/** The usage counters of many grants and the agents' action histories, read outside an evaluation. */
export function createRedisUsageStore(redis: RedisClient, keys: KeyNames): UsageStore {
  // An evaluation counts these counters through the evaluation store (redis-evaluation-store.ts).
  return {
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
