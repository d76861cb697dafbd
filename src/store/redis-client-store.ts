// Clients in Redis as JSON, with a short in-process cache dropped at once by invalidation events.
import type { Redis } from 'ioredis';
import type { Client } from '../domain/client.ts';
import type { ClientStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import type { EventBus } from './redis-event-bus.ts';
import { type ReplicaAcks, unconfirmedWrites } from './redis-replica-acks.ts';
import { defineScripts } from './scripts/load-scripts.ts';

/** Longest a cached client may be served without re-reading Redis, should an event be lost. */
const CACHE_TTL_MS = 5000;

interface ScriptedRedis extends Redis {
  mandateClientPut(
    k1: string,
    k2: string,
    k3: string,
    json: string,
    id: string,
    disabled: string,
    revive: string,
  ): Promise<number>;
  mandateClientCreate(
    k1: string,
    k2: string,
    k3: string,
    json: string,
    id: string,
  ): Promise<number>;
}

/**
 * `acks` confirms the kill switch (a client disabled or marked deleted) on the replicas
 * `redis.min_replicas_ack` asks for before it resolves (see redis-replica-acks.ts).
 */
export function createRedisClientStore(
  redis: RedisClient,
  keys: KeyNames,
  bus: EventBus,
  acks: ReplicaAcks = unconfirmedWrites,
): ClientStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'clientPut', 'clientCreate');
  const cache = new Map<string, { client: Client; atMs: number }>();
  bus.subscribe((e) => {
    if (e.type === 'client') cache.delete(e.id);
  });
  const changed = async (id: string) => {
    cache.delete(id);
    await bus.publish({ type: 'client', id });
  };

  return {
    get: (id) =>
      guard(async () => {
        const hit = cache.get(id);
        if (hit && Date.now() - hit.atMs < CACHE_TTL_MS) return hit.client;
        const raw = await redis.get(keys.client(id));
        if (!raw) {
          cache.delete(id);
          return undefined;
        }
        const client = JSON.parse(raw) as Client;
        if (cache.size > 10_000) cache.clear();
        cache.set(id, { client, atMs: Date.now() });
        return client;
      }),

    list: () =>
      guard(async () => {
        const ids = (await redis.smembers(keys.clients)).sort();
        if (ids.length === 0) return [];
        const raws = await redis.mget(ids.map((id) => keys.client(id)));
        return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Client);
      }),

    create: (client) =>
      guard(async () => {
        const id = client.client_id;
        if (
          (await r.mandateClientCreate(
            keys.client(id),
            keys.clients,
            keys.clientState(id),
            JSON.stringify(client),
            id,
          )) !== 1
        )
          return false;
        await changed(id);
        return true;
      }),

    put: (client, opts) =>
      guard(async () => {
        const id = client.client_id;
        const done = await r.mandateClientPut(
          keys.client(id),
          keys.clients,
          keys.clientState(id),
          JSON.stringify(client),
          id,
          client.disabled ? '1' : '0',
          opts?.revive ? '1' : '0',
        );
        await changed(id);
        if (client.disabled) await acks.confirm(redis);
        return done === 1;
      }),

    markDeleted: (id, ttlSec) =>
      guard(async () => {
        await redis.set(keys.clientState(id), 'deleted', 'EX', ttlSec);
        await changed(id);
        await acks.confirm(redis);
      }),

    delete: (id) =>
      guard(async () => {
        const replies = await redis.multi().del(keys.client(id)).srem(keys.clients, id).exec();
        await changed(id);
        return replies?.[0]?.[1] === 1;
      }),
  };
}
