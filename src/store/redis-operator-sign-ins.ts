// Pending console sign-ins at the upstream OpenID Provider in Redis: one string each under the SHA-256 of its id, expiring, taken once.
import { hash } from 'node:crypto';
import type { OperatorSignInStore, PendingOperatorSignIn } from '../domain/operator-sign-in.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';

/** The id is kept only as a digest, so whoever reads Redis cannot finish someone else's sign-in. */
export function createRedisOperatorSignIns(
  redis: RedisClient,
  keys: Pick<KeyNames, 'operatorSignIn'>,
): OperatorSignInStore {
  const keyOf = (id: string) => keys.operatorSignIn(hash('sha256', id, 'base64url'));
  return {
    put: (id, pending, ttlSec) =>
      guard(async () => {
        await redis.set(keyOf(id), JSON.stringify(pending), 'EX', ttlSec);
      }),
    take: (id) =>
      guard(async () => {
        const raw = await redis.getdel(keyOf(id));
        return raw ? (JSON.parse(raw) as PendingOperatorSignIn) : undefined;
      }),
  };
}
