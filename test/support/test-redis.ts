// The Redis fixture for store-level tests: a connection to the shared private Redis for one key prefix, cleaned up on close.
import { Redis, type RedisOptions } from 'ioredis';
import { inject } from 'vitest';
import { deleteKeysUnder } from './broker.ts';

export interface TestRedis {
  readonly redis: Redis;
  readonly prefix: string;
  /** Disconnects and deletes every key under the prefix. */
  close(): Promise<void>;
}

/** Connects to the Redis from global-setup for keys under `prefix` (a uniquePrefix()). */
export async function connectTestRedis(
  prefix: string,
  options: RedisOptions = {},
): Promise<TestRedis> {
  const url = inject('redisUrl');
  const redis = new Redis(url, { lazyConnect: true, ...options });
  await redis.connect();
  return {
    redis,
    prefix,
    async close() {
      redis.disconnect();
      await deleteKeysUnder(url, prefix);
    },
  };
}
