// Admin bearer tokens: the one from config, plus those generated at first boot (kept as SHA-256 in a Redis set).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { KeyNames } from './key-names.ts';

export interface AdminTokens {
  /** Who an admin bearer token belongs to, or undefined. */
  identify(token: string): Promise<string | undefined>;
  /** Generates and registers an admin token when none is configured; returns it once. */
  bootstrap(): Promise<string | undefined>;
}

const sha = (t: string) => createHash('sha256').update(t).digest('hex');

/** `configured` is `admin.token` from config; when set, no token is generated. */
export function createRedisAdminTokens(
  redis: Redis,
  keys: KeyNames,
  configured: string | undefined,
): AdminTokens {
  return {
    async identify(token) {
      if (configured) {
        const a = Buffer.from(sha(configured));
        if (timingSafeEqual(a, Buffer.from(sha(token)))) return 'admin';
      }
      return (await redis.sismember(keys.adminTokens, sha(token))) === 1 ? 'admin' : undefined;
    },
    async bootstrap() {
      if (configured) return undefined;
      const token = `mat_${randomBytes(32).toString('base64url')}`;
      await redis.sadd(keys.adminTokens, sha(token));
      return token;
    },
  };
}
