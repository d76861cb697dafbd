// Single-use marks in Redis: SET NX with an absolute expiry, so a claim and its lifetime are one command.
import { hash } from 'node:crypto';
import type { OneTimeUses } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';

/** Values outlive a claim by this much (s), so clock skew between processes cannot reopen one. */
const MARGIN_SEC = 5;

export function createRedisOneTimeUses(
  redis: RedisClient,
  keys: Pick<KeyNames, 'oneTimeUse'>,
  nowSec: () => number,
): OneTimeUses {
  return {
    claim: (kind, value, untilSec) =>
      guard(async () => {
        // A value already past its lifetime is refused by its verifier; keep the mark briefly anyway.
        const ttl = Math.max(1, untilSec - nowSec() + MARGIN_SEC);
        const key = keys.oneTimeUse(kind, hash('sha256', value, 'base64url'));
        return (await redis.set(key, '1', 'EX', ttl, 'NX')) === 'OK';
      }),
  };
}
