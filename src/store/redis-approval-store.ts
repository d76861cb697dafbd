// Approvals in Redis: one JSON record each, an index of pending ones, and poll pacing.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Approval, ApprovalStatus } from '../domain/approval.ts';
import type { ApprovalCreateOutcome, ApprovalStore } from '../domain/ports.ts';
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

/**
 * KEYS: 1 approval JSON, 2 the intent's pending approval, 3 approvals by expiry, 4 client's
 *       kill-switch mark (KeyNames.clientState), 5 client's pending approvals
 * ARGV: 1 approval JSON, 2 its id, 3 its expiry (epoch s), 4 when its record goes (epoch s),
 *       5 now (epoch s), 6 most pending approvals per agent, or '0' for a request that does not
 *       count against the agent (a resume request the system opens)
 * Returns: 'created' | 'client_disabled' | 'client_deleted' | 'pending_approval_limit'
 * Opens a request unless the client is marked (disabled or deleted: nothing new for it) or already
 * has the cap of pending requests; expired ones stop counting here, decided ones when they leave
 * `pending` (see transition). Keys 4 and 5 are the client's (`{c:<id>}`), the others global: on
 * Redis Cluster the check and the count would run first in the client's slot, as for grants.
 */
const CREATE_SCRIPT = `
local mark = redis.call('GET', KEYS[4])
if mark == 'deleted' then return 'client_deleted' elseif mark then return 'client_disabled' end
local cap = tonumber(ARGV[6])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[5])
  if redis.call('ZCARD', KEYS[5]) >= cap then return 'pending_approval_limit' end
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
  redis.call('EXPIREAT', KEYS[5], ARGV[3], 'NX')
  redis.call('EXPIREAT', KEYS[5], ARGV[3], 'GT')
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'EXAT', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 'created'
`;

interface ScriptedRedis extends Redis {
  mandateApprovalTransition(key: string, expected: string, next: string): Promise<number>;
  mandateApprovalCreate(
    k1: string,
    k2: string,
    k3: string,
    k4: string,
    k5: string,
    ...argv: string[]
  ): Promise<ApprovalCreateOutcome>;
}

export function createRedisApprovalStore(redis: Redis, keys: KeyNames): ApprovalStore {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateApprovalTransition !== 'function') {
    r.defineCommand('mandateApprovalTransition', { numberOfKeys: 1, lua: TRANSITION_SCRIPT });
    r.defineCommand('mandateApprovalCreate', { numberOfKeys: 5, lua: CREATE_SCRIPT });
  }
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
            .exec();
        return next;
      }),
    /** True when this poll respects the interval (and starts the next one). */
    pace: (id, intervalSec) =>
      guard(
        async () => (await redis.set(keys.approvalPoll(id), '1', 'EX', intervalSec, 'NX')) === 'OK',
      ),
  };
}
