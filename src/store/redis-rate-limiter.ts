// Fixed-window counters in Redis (one INCR + EXPIRE pipeline per hit), shared by every broker process.
import type { Redis } from 'ioredis';
import type { KeyNames } from './key-names.ts';

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
export function createRedisRateLimiter(redis: Redis, keys: KeyNames): RedisRateLimiter {
  return {
    async hit(name, key, nowMs, amount = 1) {
      const window = Math.floor(nowMs / 1000 / RATE_WINDOW_SEC);
      const redisKey = keys.rate(name, key, window);
      try {
        const replies = await redis
          .multi()
          .incrby(redisKey, amount)
          .expire(redisKey, RATE_WINDOW_SEC * 2)
          .exec();
        const [incrErr, count] = replies?.[0] ?? [new Error('no reply'), 0];
        if (incrErr || typeof count !== 'number') return undefined;
        return { count, windowEndMs: (window + 1) * RATE_WINDOW_SEC * 1000 };
      } catch {
        return undefined;
      }
    },
  };
}
