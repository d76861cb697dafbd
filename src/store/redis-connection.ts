// Redis connections: fail-fast clients for the request path, patient ones for workers.
import { Redis } from 'ioredis';
import { StoreUnavailable } from '../domain/errors.ts';

export interface ConnectionOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
}

/**
 * A request-path client: no offline queue and a bounded command timeout, so a Redis outage
 * turns into an immediate error (and a fail-closed answer), never a hung request.
 */
export function createRequestClient(opts: ConnectionOptions, name: string): Redis {
  const redis = new Redis(opts.url, {
    connectionName: name,
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 1000),
    lazyConnect: true,
    // Commands issued in one pass of the event loop leave in one write (measured side by side with
    // holding the socket's writes to the turn's end: within 10%, see docs/performance.md).
    enableAutoPipelining: true,
  });
  return redis;
}

/** A worker or subscriber client: waits for Redis rather than failing (BullMQ requires this). */
export function createWorkerClient(opts: ConnectionOptions, name: string): Redis {
  return new Redis(opts.url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: true,
  });
}

/** Runs a store call, turning any Redis failure into StoreUnavailable. */
export async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof StoreUnavailable) throw err;
    throw new StoreUnavailable(err);
  }
}

/** Redis settings the guarantees depend on, read at start. */
export interface RedisSettings {
  readonly appendonly: boolean;
  readonly appendfsync: string;
  readonly maxmemoryPolicy: string;
  readonly version: string;
}

export async function readRedisSettings(redis: Redis): Promise<RedisSettings> {
  const get = async (name: string) => {
    const reply = (await redis.call('CONFIG', 'GET', name)) as string[];
    return reply[1] ?? '';
  };
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
  return {
    appendonly: (await get('appendonly')) === 'yes',
    appendfsync: await get('appendfsync'),
    maxmemoryPolicy: await get('maxmemory-policy'),
    version,
  };
}
