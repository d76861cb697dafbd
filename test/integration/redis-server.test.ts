// Proves the test Redis harness: the shared server answers, a private AOF server survives a crash, stop() cleans up.
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { pingRedis } from '../../scripts/ping-redis.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { RedisServer } from '../support/redis-server.ts';

/** Runs `fn` with a client that fails fast instead of retrying, then disconnects it. */
async function withClient<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

describe('shared test Redis', () => {
  const url = inject('redisUrl');
  const prefix = uniquePrefix('redis-server');

  afterAll(async () => {
    await withClient(url, (redis) => redis.del(`${prefix}k`));
  });

  it('is a private server, never the machine Redis on 6379', () => {
    expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(url).port).not.toBe('6379');
    // Code that falls back to REDIS_URL must land here too.
    expect(process.env.REDIS_URL).toBe(url);
  });

  it('answers commands under a per-file prefix', async () => {
    await withClient(url, async (redis) => {
      expect(await redis.ping()).toBe('PONG');
      await redis.set(`${prefix}k`, 'v');
      expect(await redis.get(`${prefix}k`)).toBe('v');
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual([
        'maxmemory-policy',
        'noeviction',
      ]);
    });
  });

  it('gives distinct prefixes to equal names', () => {
    expect(uniquePrefix('same')).not.toBe(uniquePrefix('same'));
    expect(uniquePrefix('a b*{c}')).toMatch(/^t:a-b-c-:[0-9a-f]{8}:$/);
  });
});

describe('private RedisServer', () => {
  it('replays its AOF after a SIGKILL and restart, and stop() removes it', async () => {
    const server = await RedisServer.start({ appendfsync: 'always' });
    try {
      expect(server.port).not.toBe(6379);
      await withClient(server.url, (redis) => redis.set('survivor', 'still-here'));

      await server.kill('SIGKILL');
      expect(server.running).toBe(false);
      expect(await pingRedis('127.0.0.1', server.port, 300)).toBeNull();

      await server.restart();
      expect(await withClient(server.url, (redis) => redis.get('survivor'))).toBe('still-here');
    } finally {
      await server.stop();
    }
    expect(server.running).toBe(false);
    expect(existsSync(server.dir)).toBe(false);
    expect(await pingRedis('127.0.0.1', server.port, 300)).toBeNull();
  });

  it('loses unpersisted data on a crash when AOF is off', async () => {
    const server = await RedisServer.start({ appendonly: false });
    try {
      await withClient(server.url, (redis) => redis.set('ephemeral', '1'));
      await server.kill();
      await server.restart();
      expect(await withClient(server.url, (redis) => redis.exists('ephemeral'))).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
