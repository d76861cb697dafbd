// A random secret every broker process shares: the first process to ask creates it (SET NX), the rest read it.
import { randomBytes } from 'node:crypto';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';

/**
 * The shared secret `name` (32 random bytes), created on first use. It never expires: whatever
 * is derived from it (DPoP nonces) stays verifiable by every process, and a Redis that lost it
 * only makes outstanding nonces stale (clients retry with a fresh one).
 */
export function loadSharedSecret(
  redis: RedisClient,
  keys: Pick<KeyNames, 'sharedSecret'>,
  name: string,
): Promise<Buffer> {
  return guard(async () => {
    const key = keys.sharedSecret(name);
    await redis.set(key, randomBytes(32).toString('base64url'), 'NX');
    const value = await redis.get(key);
    if (!value) throw new Error(`shared secret ${name} could not be read`);
    return Buffer.from(value, 'base64url');
  });
}
