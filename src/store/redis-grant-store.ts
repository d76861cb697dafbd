// Grants in Redis: one hash per grant (its tokens included), its data string and index keys; atomic changes.
import type { Redis } from 'ioredis';
import { grantIdOfJti } from '../domain/access-token.ts';
import {
  DRIFT_SIGNAL_TYPES,
  NO_SIGNALS,
  type Signal,
  type SignalSummary,
  withSummary,
} from '../domain/drift.ts';
import type { ContextSnapshot, Grant, GrantStatus } from '../domain/grant.ts';
import type {
  GrantCheck,
  GrantCreateOutcome,
  GrantFilter,
  GrantStore,
  PendingRecord,
  RefreshOutcome,
} from '../domain/ports.ts';
import { clientIndexBucket, type KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';

/**
 * Access tokens are fields of the grant hash (see KeyNames.grant): `.<random>` for the jti
 * `<grant id>.<random>`, `=<jti>` for any other, valued with the token's exp. The jti names its
 * grant, so storing the grant id again would only cost bytes. Shared by the scripts below.
 */
export function tokenField(grantId: string, jti: string): string {
  return jti.startsWith(`${grantId}.`) ? jti.slice(grantId.length) : `=${jti}`;
}

/** Lua twins of tokenField (is a hash field a token, the jti it stands for) and the token walks the scripts share. */
const TOKEN_FIELDS_LUA = `
local function is_token(f)
  local b = string.byte(f, 1)
  return b == 46 or b == 61
end
local function jti_of(f, gid)
  if string.byte(f, 1) == 46 then return gid .. f end
  return string.sub(f, 2)
end
-- The grant's unexpired token fields; with drop_expired, the expired ones are deleted on the way.
local function live_tokens(key, now, drop_expired)
  local all = redis.call('HGETALL', key)
  local live = {}
  for i = 1, #all, 2 do
    local f = all[i]
    if is_token(f) then
      if tonumber(all[i + 1]) >= now then table.insert(live, f)
      elseif drop_expired then redis.call('HDEL', key, f) end
    end
  end
  return live
end
-- Adds the tokens' jtis to the grant's revoked set, which lives until the grant's deadline.
local function revoke_tokens(fields, rj, gid, deadline)
  for _, f in ipairs(fields) do redis.call('SADD', rj, jti_of(f, gid)) end
  if #fields > 0 then redis.call('EXPIREAT', rj, deadline) end
end
`;

/**
 * KEYS: 1 grant hash, 2 grant's revoked-jti set. ARGV: 1 jti.
 * The introspection check in one call: {status, deadline, client} and whether the jti is revoked
 * (one script costs the caller about half of a two-command pipeline).
 */
const CHECK_TOKEN_SCRIPT = `return {redis.call('HMGET', KEYS[1], 's', 'e', 'c'), redis.call('SISMEMBER', KEYS[2], ARGV[1])}`;

/**
 * KEYS: 1 grant hash, 2 live-grant index, 3 client's index bucket (grant -> task), 4 clients by
 *       latest deadline, 5 grant data, 6 client's kill-switch mark, 7 client's live-grant set
 * ARGV: 1 grant id, 2 client id, 3 task id, 4 deadline (epoch s), 5 policy version, 6 grant data
 *       JSON, 7 refresh-token hash, 8 first token's field (tokenField), 9 its exp, 10 the index
 *       bucket's end (epoch s), 11 now (epoch s), 12 most live grants per agent ('0': no cap)
 * Returns: 'created' | 'client_disabled' | 'client_deleted' | 'live_grant_limit'
 * Stores a new grant, its first token and its index entries in one atomic call. Refused (nothing
 * written) until the grant's mint record has landed, which leaves the record's stream id in the
 * hash: no grant exists without one, whatever order calls arrive in. (No later record of the grant
 * can precede this: nobody knows the grant until its mint answers.)
 * Refused too (nothing written) while the client carries a kill-switch mark: the admin writes the
 * mark before revoking the client's grants, so every grant either was created before the mark,
 * and is in the client's index when the revocation reads it, or is never created. And refused
 * when the client already holds the cap of grants neither revoked nor ended (the live-grant set
 * loses a grant when it is revoked, and ended ones here).
 * Redis Cluster: KEYS 6 and 7 (and 3, 4) are not in the grant's slot; this is one script on a
 * single Redis only. Under Cluster it becomes two: a client-slot script (`{c:<id>}`: mark, cap,
 * live-grant set, and the client's index moved under that tag) reserving the grant id, then this
 * grant-slot script refusing a grant hash that already has a status; revoking a client then marks,
 * and revokes every reserved id, writing `revoked` even where the grant hash has no status yet.
 */
const CREATE_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], 'h') == 0 then return redis.error_reply('MANDATE_NO_RECORD the grant has no decision record') end
local mark = redis.call('GET', KEYS[6])
if mark == 'deleted' then return 'client_deleted' elseif mark then return 'client_disabled' end
local cap = tonumber(ARGV[12])
-- Expired entries are pruned only when the count reaches the cap: the set never holds more than
-- cap entries, and a mint below the cap pays one ZCARD.
if cap > 0 and redis.call('ZCARD', KEYS[7]) >= cap then
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', ARGV[11])
  if redis.call('ZCARD', KEYS[7]) >= cap then return 'live_grant_limit' end
end
redis.call('HSET', KEYS[1], 's', 'active', 'c', ARGV[2], 't', ARGV[3], 'e', ARGV[4], 'v', ARGV[5], 'rt', ARGV[7], ARGV[8], ARGV[9])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
redis.call('SET', KEYS[5], ARGV[6], 'EXAT', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('EXPIREAT', KEYS[3], ARGV[10], 'NX')
redis.call('ZADD', KEYS[4], 'GT', ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[7], ARGV[4], ARGV[1])
-- The set lives until its latest deadline (GT moves it later; NX gives a new set its first).
if redis.call('EXPIREAT', KEYS[7], ARGV[4], 'GT') == 0 then redis.call('EXPIREAT', KEYS[7], ARGV[4], 'NX') end
return 'created'
`;

/**
 * KEYS: 1 grant hash, 2 grant's revoked-jti set, 3 grant data
 * ARGV: 1 presented refresh hash, 2 new refresh hash, 3 new token's field (tokenField), 4 its exp,
 *       5 changed grant data JSON or '', 6 policy version, 7 now (epoch s), 8 '1' to revoke
 *       outstanding tokens, 9 grant id
 * Returns: 'ok' | 'replay' | 'invalid' | 'missing' | 'inactive'
 * A hash used before means the refresh token was replayed: the grant is revoked (RFC 9700).
 * Used hashes are kept as their marks (see refreshHashMark), the last three, comma-separated,
 * so the grant hash stays small enough for Redis' compact encoding; for the same reason each
 * refresh drops the grant's expired tokens.
 * Narrowing revokes every outstanding token, since each carries the wider grant.
 */
const REFRESH_SCRIPT = `${TOKEN_FIELDS_LUA}
local f = redis.call('HMGET', KEYS[1], 's', 'e', 'rt', 'ru')
if not f[1] then return 'missing' end
local mark = string.sub(ARGV[1], 8, 23)
local used = {}
for m in string.gmatch(f[4] or '', '[^,]+') do table.insert(used, m) end
if f[3] ~= ARGV[1] then
  for _, m in ipairs(used) do
    if m == mark then
      redis.call('HSET', KEYS[1], 's', 'revoked', 'r', 'refresh_token_replay')
      return 'replay'
    end
  end
  return 'invalid'
end
if f[1] ~= 'active' or tonumber(f[2]) <= tonumber(ARGV[7]) then return 'inactive' end
table.insert(used, mark)
while #used > 3 do table.remove(used, 1) end
redis.call('HSET', KEYS[1], 'rt', ARGV[2], 'ru', table.concat(used, ','), 'v', ARGV[6])
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[3], ARGV[5], 'KEEPTTL')
end
local live = live_tokens(KEYS[1], tonumber(ARGV[7]), true)
if ARGV[8] == '1' then revoke_tokens(live, KEYS[2], ARGV[9], f[2]) end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
return 'ok'
`;

/**
 * KEYS: 1 grant hash
 * ARGV: 1 reason, 2 now (epoch s), 3 pending-record marker JSON or ''
 * Returns: {revoked 0|1, unexpired tokens made inactive, the grant's client id (when revoked)}
 * (The client id lets the caller drop the grant from the client's live-grant set, another slot.)
 */
const REVOKE_GRANT_SCRIPT = `${TOKEN_FIELDS_LUA}
local s = redis.call('HGET', KEYS[1], 's')
if not s or s == 'revoked' then return {0, 0} end
redis.call('HSET', KEYS[1], 's', 'revoked', 'r', ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'pr', ARGV[3]) end
return {1, #live_tokens(KEYS[1], tonumber(ARGV[2]), false), redis.call('HGET', KEYS[1], 'c')}
`;

/**
 * KEYS: 1 grant hash. ARGV: 1 expected marker id, 2 new marker JSON.
 * Swaps the pending-record marker only if it still names the expected record. Returns 1 when it did.
 */
const CLAIM_PENDING_SCRIPT = `
local pr = redis.call('HGET', KEYS[1], 'pr')
if not pr or cjson.decode(pr).id ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'pr', ARGV[2])
return 1
`;

/**
 * KEYS: 1 grant hash, 2 grant's revoked-jti set, 3 grant data
 * ARGV: 1 expected granted JSON, 2 new grant data JSON, 3 policy version, 4 now (epoch s),
 *       5 pending-record marker JSON or '', 6 grant id
 * Narrows only an active grant still holding the expected set (two workers narrow once), and
 * revokes every outstanding token: each carries the wider set. Returns 1 when it narrowed.
 */
const NARROW_SCRIPT = `${TOKEN_FIELDS_LUA}
local f = redis.call('HMGET', KEYS[1], 's', 'e')
local d = redis.call('GET', KEYS[3])
if f[1] ~= 'active' or not d then return 0 end
local data = cjson.decode(d)
if cjson.encode(data.granted) ~= cjson.encode(cjson.decode(ARGV[1])) then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'KEEPTTL')
redis.call('HSET', KEYS[1], 'v', ARGV[3])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'pr', ARGV[5]) end
revoke_tokens(live_tokens(KEYS[1], tonumber(ARGV[4]), false), KEYS[2], ARGV[6], f[2])
return 1
`;

/**
 * KEYS: 1 grant hash, 2 grant data, 3 live-grant index. ARGV: 1 expected status, 2 new status,
 * 3 data JSON or '', 4 token field (tokenField) or '', 5 token exp, 6 policy version or '', 7 grant id.
 * Moves the grant from the expected status (resume: suspended -> active; widen: active -> active)
 * with its new data, policy version and, optionally, a new token; an active grant is (back) in the
 * live index. Returns 1 when it did.
 */
const UPDATE_SCRIPT = `
if redis.call('HGET', KEYS[1], 's') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[2])
redis.call('HDEL', KEYS[1], 'r')
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'KEEPTTL') end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[4], ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'v', ARGV[6]) end
if ARGV[2] == 'active' then redis.call('ZADD', KEYS[3], redis.call('HGET', KEYS[1], 'e'), ARGV[7]) end
return 1
`;

/** KEYS: 1 grant hash. ARGV: 1 reason, 2 pending-record marker JSON or ''. Suspends an active grant. Returns 1 when it did. */
const SUSPEND_SCRIPT = `
if redis.call('HGET', KEYS[1], 's') ~= 'active' then return 0 end
redis.call('HSET', KEYS[1], 's', 'suspended', 'r', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'pr', ARGV[2]) end
return 1
`;

/**
 * KEYS: 1 grant hash, 2 signals list, 3 signal summary
 * ARGV: 1 signal JSON, 2 type, 3 its ip or '', 4 its risk or '', 5 signals kept per grant,
 *       6 distinct types per grant, 7 '1' when the type is always taken (DRIFT_SIGNAL_TYPES)
 * Returns 1 when added, 0 when the grant does not exist, -1 when the type is new and the grant
 * holds the most distinct types (nothing written).
 * Adds the signal to the grant's list, keeping only the newest ARGV[5], and folds it into the
 * summary (types seen, latest ip, highest risk, version + 1), which the drift rules and
 * evaluations read instead of the list; both end with the grant.
 */
const ADD_SIGNAL_SCRIPT = `
local e = redis.call('HGET', KEYS[1], 'e')
if not e then return 0 end
local raw = redis.call('GET', KEYS[3])
local sum = raw and cjson.decode(raw) or { v = 0, t = {} }
local known = false
for _, t in ipairs(sum.t) do
  if t == ARGV[2] then known = true break end
end
if not known then
  if #sum.t >= tonumber(ARGV[6]) and ARGV[7] ~= '1' then return -1 end
  table.insert(sum.t, ARGV[2])
end
sum.v = sum.v + 1
if ARGV[3] ~= '' then sum.ip = ARGV[3] end
if ARGV[4] ~= '' and tonumber(ARGV[4]) > (sum.r or 0) then sum.r = tonumber(ARGV[4]) end
redis.call('SET', KEYS[3], cjson.encode(sum), 'EXAT', e)
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('EXPIREAT', KEYS[2], e)
return 1
`;

/** The stored summary (see ADD_SIGNAL_SCRIPT) as a SignalSummary; none stored is NO_SIGNALS. */
export function decodeSignalSummary(raw: string | null | undefined): SignalSummary {
  if (!raw) return NO_SIGNALS;
  const s = JSON.parse(raw) as {
    v: number;
    t: string[] | Record<string, never>;
    ip?: string;
    r?: number;
  };
  return { version: s.v, types: Array.isArray(s.t) ? s.t : [], ip: s.ip, risk: s.r ?? 0 };
}

/** Bounds on a grant's signals (config `signals`). */
export interface SignalLimits {
  /** Signals kept per grant, newest first (older ones live on in the summary). */
  readonly maxPerGrant: number;
  /** Distinct signal types a grant takes (the drift rules' own always get in). */
  readonly maxTypesPerGrant: number;
}

export const DEFAULT_SIGNAL_LIMITS: SignalLimits = { maxPerGrant: 100, maxTypesPerGrant: 64 };

interface ScriptedRedis extends Redis {
  mandateAddSignal(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  mandateCheckToken(
    grant: string,
    revokedJtis: string,
    jti: string,
  ): Promise<[(string | null)[], number]>;
  mandateCreateGrant(...args: string[]): Promise<GrantCreateOutcome>;
  mandateNarrow(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  mandateSuspend(k1: string, reason: string, pending: string): Promise<number>;
  mandateClaimPending(k1: string, expected: string, next: string): Promise<number>;
  mandateUpdateGrant(k1: string, k2: string, k3: string, ...argv: string[]): Promise<number>;
  mandateRefresh(k1: string, k2: string, k3: string, ...argv: string[]): Promise<RefreshOutcome>;
  mandateRevokeGrant(
    k1: string,
    reason: string,
    now: string,
    pending: string,
  ): Promise<[number, number, string?]>;
}

/** What the data key holds: the rest lives in the grant hash, `requested` only when it differs. */
type StoredGrantData = Pick<Grant, 'granted' | 'context' | 'created_at'> & {
  requested?: Grant['requested'];
};

/** The grant hash fields a reader needs (the token fields are left to the scripts). */
const GRANT_FIELDS = ['s', 'c', 't', 'e', 'v', 'r', 'rt', 'ru', 'pr'] as const;

function encodeData(
  grant: Pick<Grant, 'requested' | 'granted' | 'context' | 'created_at'>,
): string {
  const same = JSON.stringify(grant.requested) === JSON.stringify(grant.granted);
  const c = grant.context;
  // Defaults are left out: most grants carry no signal, risk, approval or delegation.
  const context = {
    ...(c.ip ? { ip: c.ip } : {}),
    ...(c.risk ? { risk: c.risk } : {}),
    ...(c.signals.length ? { signals: c.signals } : {}),
    ...(c.approved ? { approved: true } : {}),
    ...(c.delegated ? { delegated: true } : {}),
    ...(c.sender_constrained ? { sender_constrained: true } : {}),
    ...(c.groups.length ? { groups: c.groups } : {}),
  };
  const data = {
    granted: grant.granted,
    context,
    created_at: grant.created_at,
    ...(same ? {} : { requested: grant.requested }),
  };
  return JSON.stringify(data);
}

export function decodeData(
  raw: string,
): Pick<Grant, 'requested' | 'granted' | 'context' | 'created_at'> {
  const data = JSON.parse(raw) as StoredGrantData & { context: Partial<ContextSnapshot> };
  const c = data.context;
  const context: ContextSnapshot = {
    ip: c.ip,
    risk: c.risk ?? 0,
    signals: c.signals ?? [],
    approved: c.approved ?? false,
    delegated: c.delegated ?? false,
    sender_constrained: c.sender_constrained ?? false,
    groups: c.groups ?? [],
  };
  return {
    granted: data.granted,
    requested: data.requested ?? data.granted,
    context,
    created_at: data.created_at,
  };
}

export function createRedisGrantStore(
  redis: Redis,
  keys: KeyNames,
  opts: { signals?: SignalLimits } = {},
): GrantStore {
  const r = redis as ScriptedRedis;
  const signalLimits = opts.signals ?? DEFAULT_SIGNAL_LIMITS;
  if (typeof r.mandateAddSignal !== 'function')
    r.defineCommand('mandateAddSignal', { numberOfKeys: 3, lua: ADD_SIGNAL_SCRIPT });
  if (typeof r.mandateRefresh !== 'function') {
    r.defineCommand('mandateCheckToken', { numberOfKeys: 2, lua: CHECK_TOKEN_SCRIPT });
    r.defineCommand('mandateCreateGrant', { numberOfKeys: 7, lua: CREATE_SCRIPT });
    r.defineCommand('mandateRefresh', { numberOfKeys: 3, lua: REFRESH_SCRIPT });
    r.defineCommand('mandateRevokeGrant', { numberOfKeys: 1, lua: REVOKE_GRANT_SCRIPT });
    r.defineCommand('mandateNarrow', { numberOfKeys: 3, lua: NARROW_SCRIPT });
    r.defineCommand('mandateSuspend', { numberOfKeys: 1, lua: SUSPEND_SCRIPT });
    r.defineCommand('mandateUpdateGrant', { numberOfKeys: 3, lua: UPDATE_SCRIPT });
    r.defineCommand('mandateClaimPending', { numberOfKeys: 1, lua: CLAIM_PENDING_SCRIPT });
  }

  const parse = (
    id: string,
    fields: ReadonlyArray<string | null> | undefined,
    d: string | null | undefined,
  ) => {
    const [s, c, t, e, v, reason, rt, ru, pr] = fields ?? [];
    if (!d || !s || !c || !t || !e) return undefined;
    const data = decodeData(d);
    return {
      ...data,
      id,
      client_id: c,
      task_id: t,
      expires_at: Number(e),
      status: s as GrantStatus,
      reason: reason ?? undefined,
      policy_version: Number(v ?? 0),
      refresh_hash: rt ?? '',
      used_refresh_hashes: ru ? ru.split(',') : [],
      pending: pr ? (JSON.parse(pr) as PendingRecord) : undefined,
    };
  };
  /** The grant with its data, in one round trip. */
  const readGrants = async (ids: readonly string[], withSignals = false) => {
    const p = redis.pipeline();
    for (const id of ids) {
      p.hmget(keys.grant(id), ...GRANT_FIELDS).get(keys.grantData(id));
      if (withSignals) p.lrange(keys.grantSignals(id), 0, -1).get(keys.grantSignalSummary(id));
    }
    const replies = (await p.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    const step = withSignals ? 4 : 2;
    // The kept signals with stand-ins for what the per-grant cap dropped (see withSummary).
    const signalsAt = (i: number) =>
      withSummary(
        ((replies[i * step + 2]?.[1] as string[]) ?? []).map((x) => JSON.parse(x) as Signal),
        decodeSignalSummary(replies[i * step + 3]?.[1] as string | null),
      );
    return ids.map((id, i) => ({
      grant: parse(
        id,
        replies[i * step]?.[1] as (string | null)[],
        replies[i * step + 1]?.[1] as string | null,
      ),
      signals: withSignals ? signalsAt(i) : [],
    }));
  };
  /** Every grant id -> task id in the live buckets of the clients' indexes, in one round trip. */
  const indexesOf = async (clientIds: readonly string[], nowSec: number) => {
    const p = redis.pipeline();
    for (const clientId of clientIds)
      for (const key of keys.clientGrantBuckets(clientId, nowSec)) p.hgetall(key);
    const replies = (await p.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    return Object.assign({}, ...replies.map(([, index]) => index)) as Record<string, string>;
  };
  const idsOfClient = async (clientId: string, nowSec: number) =>
    Object.keys(await indexesOf([clientId], nowSec));
  /** Grant ids whose task is `taskId` in an index (grant id -> task id). */
  const ofTask = (index: Record<string, string>, taskId: string) =>
    Object.keys(index).filter((id) => index[id] === taskId);
  /** A task's grants are indexed under their client: ask every client with a grant alive (an admin path). */
  const idsOfTask = async (taskId: string, nowSec: number) => {
    const [, live] =
      (await redis
        .multi()
        .zremrangebyscore(keys.clientsWithGrants, '-inf', `(${nowSec}`)
        .zrangebyscore(keys.clientsWithGrants, nowSec, '+inf')
        .exec()) ?? [];
    if (live?.[0]) throw live[0];
    const clients = (live?.[1] as string[] | undefined) ?? [];
    return clients.length ? ofTask(await indexesOf(clients, nowSec), taskId) : [];
  };

  return {
    create: (grant, token, refreshHash, limits) =>
      guard(() =>
        r.mandateCreateGrant(
          keys.grant(grant.id),
          keys.liveGrants,
          keys.clientGrants(grant.client_id, clientIndexBucket(grant.expires_at)),
          keys.clientsWithGrants,
          keys.grantData(grant.id),
          keys.clientState(grant.client_id),
          keys.clientLiveGrants(grant.client_id),
          grant.id,
          grant.client_id,
          grant.task_id,
          String(grant.expires_at),
          String(grant.policy_version),
          encodeData(grant),
          refreshHash,
          tokenField(grant.id, token.jti),
          String(token.exp),
          String(clientIndexBucket(grant.expires_at)),
          String(grant.created_at),
          String(limits?.maxLiveGrantsPerAgent ?? 0),
        ),
      ),

    get: (id) => guard(async () => (await readGrants([id]))[0]?.grant),

    check: (grantId, jti) =>
      guard(async () => {
        const [[s, e, c], revoked] = await r.mandateCheckToken(
          keys.grant(grantId),
          keys.grantRevokedJtis(grantId),
          jti,
        );
        if (!s || !e || !c) return undefined;
        return {
          status: s as GrantStatus,
          expires_at: Number(e),
          client_id: c,
          jtiRevoked: revoked === 1,
        } satisfies GrantCheck;
      }),

    refresh: (grantId, presentedHash, next, nowSec) =>
      guard(async () => {
        let changed = '';
        if (next.granted) {
          const current = await redis.get(keys.grantData(grantId));
          if (current) {
            const data = decodeData(current);
            changed = encodeData({
              ...data,
              granted: next.granted,
              requested: next.requested ?? data.requested,
            });
          }
        }
        const outcome = await r.mandateRefresh(
          keys.grant(grantId),
          keys.grantRevokedJtis(grantId),
          keys.grantData(grantId),
          presentedHash,
          next.refreshHash,
          tokenField(grantId, next.token.jti),
          String(next.token.exp),
          changed,
          String(next.policyVersion),
          String(nowSec),
          next.granted && !next.widened ? '1' : '0',
          grantId,
        );
        if (outcome === 'replay') {
          await redis.zrem(keys.liveGrants, grantId);
          const clientId = await redis.hget(keys.grant(grantId), 'c');
          if (clientId) await redis.zrem(keys.clientLiveGrants(clientId), grantId);
        }
        return outcome;
      }),

    revokeGrant: (id, reason, nowSec, pending) =>
      guard(async () => {
        const marker = pending ? JSON.stringify(pending) : '';
        const [revoked, tokens, clientId] = await r.mandateRevokeGrant(
          keys.grant(id),
          reason,
          String(nowSec),
          marker,
        );
        // A grant owing its record stays in the live index until the sweep sees the record written.
        if (!pending) await redis.zrem(keys.liveGrants, id);
        // It no longer counts against its agent's cap, whatever record it owes.
        if (clientId) await redis.zrem(keys.clientLiveGrants(clientId), id);
        return { revoked: revoked === 1, tokens };
      }),

    claimPending: (id, expected, next) =>
      guard(
        async () =>
          (await r.mandateClaimPending(keys.grant(id), expected, JSON.stringify(next))) === 1,
      ),

    dropFromLive: (ids) =>
      guard(async () => {
        if (ids.length) await redis.zrem(keys.liveGrants, ...ids);
      }),

    revokeToken: (jti, nowSec) =>
      guard(async () => {
        const grantId = grantIdOfJti(jti);
        if (!grantId) return { revoked: false };
        const exp = await redis.hget(keys.grant(grantId), tokenField(grantId, jti));
        if (exp === null) return { revoked: false };
        const until = Math.max(Number(exp), nowSec + 1);
        const rj = keys.grantRevokedJtis(grantId);
        const replies = await redis
          .multi()
          .sadd(rj, jti)
          .expireat(rj, until, 'NX')
          .expireat(rj, until, 'GT')
          .exec();
        return { grantId, revoked: replies?.[0]?.[1] === 1 };
      }),

    narrow: (id, expected, granted, policyVersion, nowSec, pending) =>
      guard(async () => {
        const current = await redis.get(keys.grantData(id));
        if (!current) return false;
        const data = { ...decodeData(current), granted };
        const done = await r.mandateNarrow(
          keys.grant(id),
          keys.grantRevokedJtis(id),
          keys.grantData(id),
          JSON.stringify(expected),
          encodeData(data),
          String(policyVersion),
          String(nowSec),
          pending ? JSON.stringify(pending) : '',
          id,
        );
        return done === 1;
      }),

    suspend: (id, reason, pending) =>
      guard(
        async () =>
          (await r.mandateSuspend(
            keys.grant(id),
            reason,
            pending ? JSON.stringify(pending) : '',
          )) === 1,
      ),

    update: (id, from, to, change, token) =>
      guard(async () => {
        // A missing grant hash fails the script's status check; only the data is read here.
        const current = await redis.get(keys.grantData(id));
        if (!current) return false;
        const data = change ? encodeData({ ...decodeData(current), ...change }) : '';
        const field = token ? tokenField(id, token.jti) : '';
        const version = change?.policy_version !== undefined ? String(change.policy_version) : '';
        const done = await r.mandateUpdateGrant(
          keys.grant(id),
          keys.grantData(id),
          keys.liveGrants,
          from,
          to,
          data,
          field,
          String(token?.exp ?? 0),
          version,
          id,
        );
        return done === 1;
      }),

    addSignal: (id, signal) =>
      guard(async () => {
        const ip = signal.context?.ip;
        const added = await r.mandateAddSignal(
          keys.grant(id),
          keys.grantSignals(id),
          keys.grantSignalSummary(id),
          JSON.stringify(signal),
          signal.type,
          typeof ip === 'string' ? ip : '',
          signal.risk === undefined ? '' : String(signal.risk),
          String(signalLimits.maxPerGrant),
          String(signalLimits.maxTypesPerGrant),
          DRIFT_SIGNAL_TYPES.has(signal.type) ? '1' : '0',
        );
        return added === 1 ? 'added' : added === 0 ? 'missing' : 'too_many_types';
      }),

    getMany: (ids) =>
      guard(async () => {
        if (!ids.length) return [];
        const out: Array<{ grant: Grant; signals: Signal[]; pending?: PendingRecord }> = [];
        for (const { grant: parsed, signals } of await readGrants(ids, true)) {
          if (!parsed) continue;
          const { refresh_hash: _a, used_refresh_hashes: _b, pending, ...grant } = parsed;
          out.push({ grant, signals, pending });
        }
        return out;
      }),

    liveGrantIds: (offset, count, nowSec, prune = true) =>
      guard(async () => {
        if (offset === 0 && prune)
          await redis.zremrangebyscore(keys.liveGrants, '-inf', `(${nowSec}`);
        return redis.zrangebyscore(keys.liveGrants, nowSec, '+inf', 'LIMIT', offset, count);
      }),

    grantIdOfToken: async (jti) => grantIdOfJti(jti),

    grantIdsOfClient: (clientId, nowSec) => guard(() => idsOfClient(clientId, nowSec)),
    grantIdsOfTask: (taskId, nowSec) => guard(() => idsOfTask(taskId, nowSec)),

    list: (filter: GrantFilter, nowSec) =>
      guard(async () => {
        const ids =
          filter.client_id && filter.task_id
            ? ofTask(await indexesOf([filter.client_id], nowSec), filter.task_id)
            : filter.client_id
              ? await idsOfClient(filter.client_id, nowSec)
              : filter.task_id
                ? await idsOfTask(filter.task_id, nowSec)
                : await redis.zrangebyscore(
                    keys.liveGrants,
                    nowSec,
                    '+inf',
                    'LIMIT',
                    0,
                    filter.limit * 4,
                  );
        if (ids.length === 0) return [];
        const grants: Grant[] = [];
        for (const { grant: g } of await readGrants(ids)) {
          if (!g) continue;
          if (filter.task_id && g.task_id !== filter.task_id) continue;
          if (filter.status && g.status !== filter.status) continue;
          const { refresh_hash: _a, used_refresh_hashes: _b, pending: _p, ...grant } = g;
          grants.push(grant);
        }
        return grants.sort((a, b) => b.created_at - a.created_at).slice(0, filter.limit);
      }),
  };
}
