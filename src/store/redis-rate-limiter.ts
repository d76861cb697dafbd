// Fixed-window counters in Redis (one script per hit: rateHit-1.lua), shared by every broker process.
import type { Redis } from 'ioredis';
import type { KeyNames } from './key-names.ts';
import type { RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

interface RateCommands {
  mandateRateHit(counter: string, amount: number, ttlSec: number): Promise<number>;
}

/** Length of one counting window. */
export const RATE_WINDOW_SEC = 60;

export interface RateHit {
  /** Hits counted in the current window, this one included. */
  readonly count: number;
  /** Epoch milliseconds at which the current window ends. */
  readonly windowEndMs: number;
}

export interface RedisRateLimiter {
  /**
   * Counts `amount` (default 1) events for `key` under `name` in the current minute. Resolves undefined when Redis
   * cannot count: a limiter outage must neither throw nor block anyone, because the request path
   * it guards already fails closed without Redis.
   */
  hit(name: string, key: string, nowMs: number, amount?: number): Promise<RateHit | undefined>;
}

/** Keys live through their window plus a margin for clock skew between processes, then expire. */
export function createRedisRateLimiter(redis: RedisClient, keys: KeyNames): RedisRateLimiter {
  defineScripts(redis, 'rateHit');
  const r = redis as Redis & RateCommands;
  return {
    async hit(name, key, nowMs, amount = 1) {
      const window = Math.floor(nowMs / 1000 / RATE_WINDOW_SEC);
      const redisKey = keys.rate(name, key, window);
      try {
        // One script rather than MULTI INCRBY EXPIRE EXEC: 3x the counts per second on one client
        // (docs/performance.md, "Rate limiter").
        const count = await r.mandateRateHit(redisKey, amount, RATE_WINDOW_SEC * 2);
        if (typeof count !== 'number') return undefined;
        return { count, windowEndMs: (window + 1) * RATE_WINDOW_SEC * 1000 };
      } catch {
        return undefined;
      }
    },
  };
}
