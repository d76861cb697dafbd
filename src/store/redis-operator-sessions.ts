// Console sessions in Redis: one string per session under the SHA-256 of its id, expiring when idle.
import { hash } from 'node:crypto';
import type { OperatorSession, OperatorSessionStore } from '../domain/operator-session.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';

/**
 * The id is kept only as a digest, so whoever reads Redis cannot present a session cookie. Every
 * read restarts the idle timer (GETEX) without passing the absolute deadline.
 */
export function createRedisOperatorSessions(
  redis: RedisClient,
  keys: Pick<KeyNames, 'operatorSession'>,
): OperatorSessionStore {
  const keyOf = (id: string) => keys.operatorSession(hash('sha256', id, 'base64url'));
  return {
    create: (id, session, idleSec) =>
      guard(async () => {
        await redis.set(keyOf(id), JSON.stringify(session), 'EX', idleSec);
      }),
    touch: (id, idleSec, nowSec) =>
      guard(async () => {
        const key = keyOf(id);
        const raw = await redis.getex(key, 'EX', idleSec);
        if (!raw) return undefined;
        const session = JSON.parse(raw) as OperatorSession;
        if (session.expires_at > nowSec) return session;
        await redis.del(key);
        return undefined;
      }),
    delete: (id) =>
      guard(async () => {
        await redis.del(keyOf(id));
      }),
  };
}
