// Pending authorization requests and authorization codes in Redis, each under the SHA-256 of its secret id.
import { hash } from 'node:crypto';
import type {
  AuthorizationCode,
  CodeRedemption,
  PendingAuthorization,
} from '../domain/authorization-request.ts';
import type { AuthorizationStore } from '../domain/authorization-store.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

/** A used code's key outlives its redemption window by this much (s), so a late replay still finds and revokes its grant. */
const REPLAY_WATCH_SEC = 600;

type Scripted = RedisClient & {
  mandateRedeemCode(
    key: string,
    clientId: string,
    redirectUri: string,
    codeChallenge: string,
    nowSec: number,
    resources: string,
  ): Promise<[string, string?] | null>;
  mandateNoteCodeGrant(key: string, grantId: string): Promise<number>;
  mandateUpdatePending(key: string, value: string): Promise<number>;
};

/**
 * Ids and codes are kept only as digests: whoever reads Redis cannot present them. A code is
 * marked used atomically with the check of its binding (scripts/redeemCode-1.lua).
 */
export function createRedisAuthorizationStore(
  redis: RedisClient,
  keys: Pick<KeyNames, 'pendingAuthorization' | 'authorizationCode'>,
): AuthorizationStore {
  defineScripts(redis, 'redeemCode', 'noteCodeGrant', 'updatePending');
  const r = redis as Scripted;
  const digest = (v: string) => hash('sha256', v, 'base64url');
  const pendingKey = (id: string) => keys.pendingAuthorization(digest(id));
  const codeKey = (code: string) => keys.authorizationCode(digest(code));
  return {
    putPending: (id, pending, ttlSec) =>
      guard(async () => {
        await redis.set(pendingKey(id), JSON.stringify(pending), 'EX', ttlSec);
      }),
    getPending: (id) =>
      guard(async () => {
        const raw = await redis.get(pendingKey(id));
        return raw ? (JSON.parse(raw) as PendingAuthorization) : undefined;
      }),
    updatePending: (id, pending) =>
      guard(
        async () => (await r.mandateUpdatePending(pendingKey(id), JSON.stringify(pending))) === 1,
      ),
    takePending: (id) =>
      guard(async () => {
        const raw = await redis.getdel(pendingKey(id));
        return raw ? (JSON.parse(raw) as PendingAuthorization) : undefined;
      }),
    putCode: (code, value, ttlSec) =>
      guard(async () => {
        await redis
          .multi()
          .hset(codeKey(code), 'v', JSON.stringify(value))
          .expire(codeKey(code), ttlSec + REPLAY_WATCH_SEC)
          .exec();
      }),
    redeemCode: (code, presented) =>
      guard(async (): Promise<CodeRedemption> => {
        const reply = await r.mandateRedeemCode(
          codeKey(code),
          presented.clientId,
          presented.redirectUri,
          presented.codeChallenge,
          presented.nowSec,
          JSON.stringify(presented.resources),
        );
        if (!reply) return { status: 'unknown' };
        const [status, value = ''] = reply;
        if (status === 'first')
          return { status: 'first', code: JSON.parse(value) as AuthorizationCode };
        if (status === 'replayed') return { status: 'replayed', grantId: value || undefined };
        if (status === 'foreign') return { status: 'foreign' };
        return { status: 'mismatch' };
      }),
    noteCodeGrant: (code, grantId) =>
      guard(async () => (await r.mandateNoteCodeGrant(codeKey(code), grantId)) === 1),
  };
}
