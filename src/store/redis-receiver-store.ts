// CAEP receivers in one Redis hash: receiver id -> JSON (its bearer token included, so the worker can push).
import type { Receiver, ReceiverStore } from '../domain/receiver.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';

export function createRedisReceiverStore(redis: RedisClient, keys: KeyNames): ReceiverStore {
  const parse = (raw: string) => JSON.parse(raw) as Receiver;
  return {
    list: () =>
      guard(async () =>
        Object.values(await redis.hgetall(keys.receivers))
          .map(parse)
          .sort((a, b) => a.id.localeCompare(b.id)),
      ),
    get: (id) =>
      guard(async () => {
        const raw = await redis.hget(keys.receivers, id);
        return raw ? parse(raw) : undefined;
      }),
    create: (receiver) =>
      guard(
        async () =>
          (await redis.hsetnx(keys.receivers, receiver.id, JSON.stringify(receiver))) === 1,
      ),
    put: (receiver) =>
      guard(async () => {
        await redis.hset(keys.receivers, receiver.id, JSON.stringify(receiver));
      }),
    delete: (id) => guard(async () => (await redis.hdel(keys.receivers, id)) === 1),
  };
}
