// Approvals in Redis: one JSON record each, an index of pending ones, and poll pacing.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Approval, ApprovalStatus } from '../domain/approval.ts';
import type { ApprovalStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';

/** Records outlive their expiry a day, so "expired" and "who decided" can still be shown. */
const RETAIN_SEC = 86_400;
const LIST_PAGE = 200;

/**
 * KEYS: 1 approval JSON. ARGV: 1 expected status, 2 new JSON (built by the caller from the record
 * it read, which cannot change while the status holds). Compare-and-set on the status field, so
 * two approvers (or two polls) move an approval once. Returns 1 when it moved.
 * (The JSON is not rebuilt in Lua: cjson would turn empty arrays into objects.)
 */
const TRANSITION_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw).status ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`;

interface ScriptedRedis extends Redis {
  mandateApprovalTransition(key: string, expected: string, next: string): Promise<number>;
}

export function createRedisApprovalStore(redis: Redis, keys: KeyNames): ApprovalStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateApprovalTransition !== 'function') r.defineCommand('mandateApprovalTransition', { numberOfKeys: 1, lua: TRANSITION_SCRIPT });
  const byIntent = (key: string) => keys.approvalByIntent(createHash('sha256').update(key).digest('base64url'));
  const parse = (raw: string | null) => (raw ? (JSON.parse(raw) as Approval) : undefined);

  return {
    create: (a) =>
      guard(async () => {
        await redis
          .multi()
          .set(keys.approval(a.id), JSON.stringify(a), 'EXAT', a.expires_at + RETAIN_SEC)
          .set(byIntent(a.intent_key), a.id, 'EXAT', a.expires_at)
          .zadd(keys.pendingApprovals, a.expires_at, a.id)
          .exec();
      }),
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
          const page = (await redis.mget(ids.map((id) => keys.approval(id)))).map(parse).filter((a): a is Approval => !!a);
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
        if ((await r.mandateApprovalTransition(keys.approval(id), expected, JSON.stringify(next))) !== 1) return undefined;
        if (next.status !== 'pending') await redis.del(byIntent(next.intent_key));
        return next;
      }),
    /** True when this poll respects the interval (and starts the next one). */
    pace: (id, intervalSec) => guard(async () => (await redis.set(keys.approvalPoll(id), '1', 'EX', intervalSec, 'NX')) === 'OK'),
  };
}
