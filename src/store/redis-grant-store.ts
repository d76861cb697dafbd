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
import { GRANT_FIELDS } from './grant-fields.ts';
import { clientIndexBucket, type KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { type ReplicaAcks, unconfirmedWrites } from './redis-replica-acks.ts';
import { defineScripts } from './scripts/load-scripts.ts';

/**
 * Access tokens are fields of the grant hash (see KeyNames.grant): `.<random>` for the jti
 * `<grant id>.<random>`, `=<jti>` for any other, valued with the token's exp. The jti names its
 * grant, so storing the grant id again would only cost bytes. Its Lua twin is in
 * scripts/includes/tokenFields.lua.
 */
export function tokenField(grantId: string, jti: string): string {
  return jti.startsWith(`${grantId}.`) ? jti.slice(grantId.length) : `=${jti}`;
}

/**
 * The field holding an issued token's digest (IssuedToken.digest): `#` and its tokenField, so the
 * token walks (is_token in scripts/includes/tokenFields.lua) pass it by, and an expired token's
 * digest is dropped with it.
 */
export function tokenDigestField(grantId: string, jti: string): string {
  return `#${tokenField(grantId, jti)}`;
}

/** The stored summary (see scripts/addSignal-3.lua) as a SignalSummary; none stored is NO_SIGNALS. */
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
    digestField: string,
  ): Promise<[(string | null)[], number]>;
  mandateCreateGrant(...args: string[]): Promise<GrantCreateOutcome>;
  mandateCreateChildGrant(...args: string[]): Promise<GrantCreateOutcome>;
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
  jkt?: string;
  delegation?: Grant['delegation'];
};

/** The grant hash fields a reader needs, in parse's order (the token fields are left to the scripts). */
const READ_FIELDS = [
  GRANT_FIELDS.status,
  GRANT_FIELDS.clientId,
  GRANT_FIELDS.taskId,
  GRANT_FIELDS.deadline,
  GRANT_FIELDS.policyVersion,
  GRANT_FIELDS.reason,
  GRANT_FIELDS.refreshHash,
  GRANT_FIELDS.usedRefreshMarks,
  GRANT_FIELDS.pendingRecord,
] as const;

function encodeData(
  grant: Pick<Grant, 'requested' | 'granted' | 'context' | 'created_at' | 'jkt' | 'delegation'>,
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
    ...(c.workload ? { workload: c.workload } : {}),
    ...(c.on_behalf_of ? { on_behalf_of: c.on_behalf_of } : {}),
  };
  const data = {
    granted: grant.granted,
    context,
    created_at: grant.created_at,
    ...(same ? {} : { requested: grant.requested }),
    ...(grant.jkt ? { jkt: grant.jkt } : {}),
    ...(grant.delegation ? { delegation: grant.delegation } : {}),
  };
  return JSON.stringify(data);
}

export function decodeData(
  raw: string,
): Pick<Grant, 'requested' | 'granted' | 'context' | 'created_at' | 'jkt' | 'delegation'> {
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
    ...(c.workload ? { workload: c.workload } : {}),
    ...(c.on_behalf_of ? { on_behalf_of: c.on_behalf_of } : {}),
  };
  return {
    granted: data.granted,
    requested: data.requested ?? data.granted,
    context,
    created_at: data.created_at,
    ...(data.jkt ? { jkt: data.jkt } : {}),
    ...(data.delegation ? { delegation: data.delegation } : {}),
  };
}

/**
 * `acks` confirms the writes that must survive a failover (a new grant, a revocation, a narrowing or
 * suspension) on the replicas `redis.min_replicas_ack` asks for before they resolve: they reject with
 * WriteNotConfirmed otherwise. A revocation is confirmed even when it finds the grant or token
 * revoked already (an earlier call may have written it and answered 503).
 */
export function createRedisGrantStore(
  redis: RedisClient,
  keys: KeyNames,
  opts: { signals?: SignalLimits; acks?: ReplicaAcks } = {},
): GrantStore {
  const r = redis as ScriptedRedis;
  const signalLimits = opts.signals ?? DEFAULT_SIGNAL_LIMITS;
  const acks = opts.acks ?? unconfirmedWrites;
  /** The outcome once `written` says a write happened and it is confirmed on the replicas. */
  const confirmed = async <T>(outcome: T, written = true): Promise<T> => {
    if (written) await acks.confirm(redis);
    return outcome;
  };
  defineScripts(
    redis,
    'addSignal',
    'checkToken',
    'createGrant',
    'createChildGrant',
    'refresh',
    'revokeGrant',
    'narrow',
    'suspend',
    'updateGrant',
    'claimPending',
  );

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
      p.hmget(keys.grant(id), ...READ_FIELDS).get(keys.grantData(id));
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
      guard(async () => {
        const args = [
          keys.grant(grant.id),
          keys.liveGrants,
          keys.clientGrants(grant.client_id, clientIndexBucket(grant.expires_at)),
          keys.clientsWithGrants,
          keys.grantData(grant.id),
          keys.clientState(grant.client_id),
          keys.clientLiveGrants(grant.client_id),
        ];
        const argv = [
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
          token.digest ?? '',
        ];
        const parent = grant.delegation?.parent;
        const outcome = await (parent
          ? r.mandateCreateChildGrant(
              ...args,
              keys.grant(parent),
              keys.grantChildren(parent),
              ...argv,
            )
          : r.mandateCreateGrant(...args, ...argv));
        return confirmed(outcome, outcome === 'created');
      }),

    childrenOf: (ids) =>
      guard(async () => {
        if (!ids.length) return [];
        const p = redis.pipeline();
        for (const id of ids) p.smembers(keys.grantChildren(id));
        const replies = (await p.exec()) ?? [];
        const failed = replies.find(([err]) => err);
        if (failed) throw failed[0];
        return replies.map(([, members]) => (members as string[]) ?? []);
      }),

    get: (id) => guard(async () => (await readGrants([id]))[0]?.grant),

    check: (grantId, jti) =>
      guard(async () => {
        const [[s, e, c, digest], revoked] = await r.mandateCheckToken(
          keys.grant(grantId),
          keys.grantRevokedJtis(grantId),
          jti,
          tokenDigestField(grantId, jti),
        );
        if (!s || !e || !c) return undefined;
        return {
          status: s as GrantStatus,
          expires_at: Number(e),
          client_id: c,
          jtiRevoked: revoked === 1,
          ...(digest ? { tokenDigest: digest } : {}),
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
          next.token.digest ?? '',
        );
        if (outcome === 'replay') {
          await redis.zrem(keys.liveGrants, grantId);
          const clientId = await redis.hget(keys.grant(grantId), GRANT_FIELDS.clientId);
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
        return confirmed({ revoked: revoked === 1, tokens });
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
        return confirmed({ grantId, revoked: replies?.[0]?.[1] === 1 });
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
        return confirmed(done === 1, done === 1);
      }),

    suspend: (id, reason, pending) =>
      guard(async () => {
        const marker = pending ? JSON.stringify(pending) : '';
        const done = (await r.mandateSuspend(keys.grant(id), reason, marker)) === 1;
        return confirmed(done, done);
      }),

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

    countLive: (nowSec) => guard(() => redis.zcount(keys.liveGrants, nowSec, '+inf')),

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
