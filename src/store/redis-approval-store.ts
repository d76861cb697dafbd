// Approvals in Redis: one JSON record each, an index of pending ones, and poll pacing.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Approval, ApprovalStatus } from '../domain/approval.ts';
import type { ApprovalCreateOutcome, ApprovalStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

/** Records outlive their expiry a day, so "expired" and "who decided" can still be shown. */
const RETAIN_SEC = 86_400;
const LIST_PAGE = 200;

interface ScriptedRedis extends Redis {
  mandateApprovalTransition(key: string, expected: string, next: string): Promise<number>;
  mandateApprovalCreate(
    k1: string,
    k2: string,
    k3: string,
    k4: string,
    k5: string,
    k6: string,
    ...argv: string[]
  ): Promise<ApprovalCreateOutcome>;
}

export function createRedisApprovalStore(redis: RedisClient, keys: KeyNames): ApprovalStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'approvalTransition', 'approvalCreate');
  const byIntent = (key: string) =>
    keys.approvalByIntent(createHash('sha256').update(key).digest('base64url'));
  const parse = (raw: string | null) => (raw ? (JSON.parse(raw) as Approval) : undefined);

  return {
    create: (a, limits) =>
      guard(() =>
        r.mandateApprovalCreate(
          keys.approval(a.id),
          byIntent(a.intent_key),
          keys.pendingApprovals,
          keys.clientState(a.client_id),
          keys.clientPendingApprovals(a.client_id),
          keys.openApprovals,
          JSON.stringify(a),
          a.id,
          String(a.expires_at),
          String(a.expires_at + RETAIN_SEC),
          String(a.created_at),
          String(limits?.maxPendingPerAgent ?? 0),
        ),
      ),
    get: (id) => guard(async () => parse(await redis.get(keys.approval(id)))),
    pendingFor: (intentKey) =>
      guard(async () => {
        const id = await redis.get(byIntent(intentKey));
        return id ? parse(await redis.get(keys.approval(id))) : undefined;
      }),
    list: (status, nowSec, limit) =>
      guard(async () => {
        // Kept in the index a day past expiry, like the records.
        await redis.zremrangebyscore(keys.pendingApprovals, '-inf', `(${nowSec - RETAIN_SEC}`);
        const found: Approval[] = [];
        // Newest first, a page at a time, until `limit` of the asked status are found.
        for (let start = 0; found.length < limit; start += LIST_PAGE) {
          const ids = await redis.zrevrange(keys.pendingApprovals, start, start + LIST_PAGE - 1);
          if (!ids.length) break;
          const page = (await redis.mget(ids.map((id) => keys.approval(id))))
            .map(parse)
            .filter((a): a is Approval => !!a);
          for (const a of page) if (!status || a.status === status) found.push(a);
          if (ids.length < LIST_PAGE) break;
        }
        return found.slice(0, limit);
      }),
    transition: (id, expected: ApprovalStatus, patch) =>
      guard(async () => {
        const current = parse(await redis.get(keys.approval(id)));
        if (!current || current.status !== expected) return undefined;
        const next = { ...current, ...patch } as Approval;
        if (
          (await r.mandateApprovalTransition(keys.approval(id), expected, JSON.stringify(next))) !==
          1
        )
          return undefined;
        if (next.status !== 'pending')
          await redis
            .multi()
            .del(byIntent(next.intent_key))
            .zrem(keys.clientPendingApprovals(next.client_id), id)
            .zrem(keys.openApprovals, id)
            .exec();
        return next;
      }),
    countPending: (nowSec) =>
      guard(async () => {
        // Expired requests leave the count here (nobody decides them any more).
        const [, count] = (await redis
          .multi()
          .zremrangebyscore(keys.openApprovals, '-inf', nowSec)
          .zcard(keys.openApprovals)
          .exec()) ?? [
          [null, 0],
          [null, 0],
        ];
        if (count?.[0]) throw count[0];
        return Number(count?.[1] ?? 0);
      }),
    /** True when this poll respects the interval (and starts the next one). */
    pace: (id, intervalSec) =>
      guard(
        async () => (await redis.set(keys.approvalPoll(id), '1', 'EX', intervalSec, 'NX')) === 'OK',
      ),
  };
}
