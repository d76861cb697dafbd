// A private primary and one replica (`redis-server --replicaof`) on free ports, for tests of acknowledged writes.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisServer, type RedisServerOptions } from './redis-server.ts';

export interface ReplicaPair {
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  /** Resolves once the primary counts the replica as connected and its link is up. */
  linked(timeoutMs?: number): Promise<void>;
  /** A short-lived read of `key` on the replica (never the primary). */
  readOnReplica<T>(read: (redis: Redis) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

async function infoField(url: string, section: string, field: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 500 });
  try {
    await redis.connect();
    const info = await redis.info(section);
    return new RegExp(`^${field}:([^\\r\\n]*)`, 'm').exec(info)?.[1] ?? '';
  } catch {
    return '';
  } finally {
    redis.disconnect();
  }
}

/** Starts a primary, then a replica of it, and waits for the link. */
export async function startReplicaPair(opts: RedisServerOptions = {}): Promise<ReplicaPair> {
  const primary = await RedisServer.start(opts);
  let replica: RedisServer;
  try {
    replica = await RedisServer.start({
      ...opts,
      extraArgs: [...(opts.extraArgs ?? []), '--replicaof', '127.0.0.1', String(primary.port)],
    });
  } catch (err) {
    await primary.stop();
    throw err;
  }
  const pair: ReplicaPair = {
    primary,
    replica,
    async linked(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const [slaves, link] = await Promise.all([
          infoField(primary.url, 'replication', 'connected_slaves'),
          infoField(replica.url, 'replication', 'master_link_status'),
        ]);
        if (Number(slaves) >= 1 && link === 'up') return;
        await sleep(50);
      }
      throw new Error('the replica did not link to the primary in time');
    },
    async readOnReplica(read) {
      const redis = new Redis(replica.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        return await read(redis);
      } finally {
        redis.disconnect();
      }
    },
    async stop() {
      replica.resume();
      await replica.stop();
      await primary.stop();
    },
  };
  await pair.linked();
  return pair;
}
