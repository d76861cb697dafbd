// The decision log: a Redis stream of hash-chained records, one chain per writing process.
import { randomBase64url } from '../crypto/random-id.ts';
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type DecisionRecord, canonicalJson, createChainVerifier } from '../domain/decision-record.ts';
import type { AuditVerdict, DecisionLog, EvaluationGuard } from '../domain/ports.ts';
import { StateChanged, StoreUnavailable } from '../domain/errors.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';
import { EVALUATION_GUARD_LUA, GUARD_ARG_COUNT, guardArgs } from './redis-usage-store.ts';
import { atTurnEnd, sendHeldWrites } from './turn-end.ts';

/**
 * A grant's history string keeps at least the newest MAX_DECISIONS_PER_QUERY (1000) ids (a stream
 * id and its comma take at most 21 bytes), cut back when twice that: a grant evaluated all day costs at
 * most 48 KiB, and each cut copies 24 KiB once per thousand records or more.
 */
const HISTORY_KEEP_BYTES = 24 * 1024;
const HISTORY_MAX_BYTES = 2 * HISTORY_KEEP_BYTES;

/**
 * KEYS: 1 stream, 2 chain heads hash
 * ARGV: 1 chain id, 2 max records (approximate trim), 3 key prefix, 4 lifetime (s) of a grant hash
 *       the record creates, 5 head JSON {seq, hash}, then per record: its JSON, grant id or '',
 *       record id whose pending-record marker on the grant this append clears or '', the number
 *       of fields that follow (0, or for a guarded record 1 + GUARD_ARG_COUNT: the chain head
 *       before it, JSON {seq, hash}, then the guard's fields, see EVALUATION_GUARD_LUA)
 * Returns the number of records appended: all of them, or those before the first whose guard
 * does not hold (guarded records come last in a batch; the head is then the one before it, and
 * no record is decoded here: a record's own text may hold what cjson cannot read).
 * Appends the records in order and indexes each under its grant: a grant's first record (its
 * mint) as the grant hash's `h`, which creates the hash (the grant store fills it, and sets its
 * deadline, once this has landed), and each later one in the grant's history string, which ends
 * when the grant does and is cut back to its newest HISTORY_KEEP_BYTES when it outgrows
 * HISTORY_MAX_BYTES. Clears the grant's pending-record marker when it names this record
 * (atomically with the append), and moves the chain head (adding `sid`, the stream id of the
 * chain's last record, so retention trimming can be told apart from deletion).
 * (The grant keys are derived here, so this script is not Redis Cluster safe yet.)
 */
const APPEND_SCRIPT = `${EVALUATION_GUARD_LUA}
local sid
local appended = 0
local i = 6
while i <= #ARGV do
  local gid = ARGV[i + 1]
  local gk = ARGV[3] .. '{g:' .. gid .. '}'
  if ARGV[i + 3] ~= '0' and not guard_holds(gk, i + 5) then break end
  sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'r', ARGV[i])
  if gid ~= '' then
    if redis.call('HSETNX', gk, 'h', sid) == 1 then
      redis.call('EXPIRE', gk, ARGV[4], 'NX')
    else
      local hk = gk .. ':hist'
      local n = redis.call('APPEND', hk, sid .. ',')
      if n == #sid + 1 then
        -- A new string ends with the grant (stored by now: a grant's second record follows its mint's answer).
        local ends = redis.call('EXPIRETIME', gk)
        if ends > 0 then redis.call('EXPIREAT', hk, ends) else redis.call('EXPIRE', hk, ARGV[4]) end
      elseif n > ${HISTORY_MAX_BYTES} then
        local kept = redis.call('GETRANGE', hk, -${HISTORY_KEEP_BYTES}, -1)
        redis.call('SET', hk, string.sub(kept, string.find(kept, ',', 1, true) + 1), 'KEEPTTL')
      end
    end
    if ARGV[i + 2] ~= '' then
      local pr = redis.call('HGET', gk, 'pr')
      if pr and cjson.decode(pr).id == ARGV[i + 2] then redis.call('HDEL', gk, 'pr') end
    end
  end
  appended = appended + 1
  i = i + 4 + tonumber(ARGV[i + 3])
end
if appended == 0 then return 0 end
local head = cjson.decode(i > #ARGV and ARGV[5] or ARGV[i + 4])
head.sid = sid
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(head))
return appended
`;

/**
 * How long a grant hash created by a record lives until the grant store sets the grant's deadline
 * (a mint is stored milliseconds after its record; one that never is, or a record about a grant
 * already ended, leaves only this).
 */
const UNSTORED_GRANT_TTL_SEC = 3600;
const MAX_BATCH = 256;
const SCAN_PAGE = 2000;

/** One-shot hashing: no Hash object per record. */
export const sha256 = (text: string) => hash('sha256', text, 'base64url');

interface Pending {
  readonly input: Omit<DecisionRecord, 'chain' | 'seq' | 'prev' | 'hash'>;
  readonly clearsPendingOf: string;
  readonly followedBy: (() => Promise<unknown>) | undefined;
  readonly guard: EvaluationGuard | undefined;
  readonly resolve: (r: DecisionRecord) => void;
  readonly reject: (e: unknown) => void;
}

interface ScriptedRedis extends Redis {
  mandateAppendDecisions(stream: string, heads: string, ...argv: string[]): Promise<number>;
}

/**
 * Records are sealed (seq, prev, hash) when flushed, one batch at a time, so a chain's order in
 * the stream is its order of sealing. A failed flush may or may not have landed: the writer then
 * starts a new chain rather than risk a gap in the old one. A record's `followedBy` write is
 * started right behind its batch's append.
 */
export function createRedisDecisionLog(redis: Redis, keys: KeyNames, opts: { maxRecords: number }): DecisionLog {
  const r = redis as ScriptedRedis;
  if (typeof r.mandateAppendDecisions !== 'function') r.defineCommand('mandateAppendDecisions', { numberOfKeys: 2, lua: APPEND_SCRIPT });
  let chain = newChainId();
  let seq = 0;
  let prev = '';
  let queue: Pending[] = [];
  let flushing = false;
  let scheduled = false;

  const flush = async () => {
    if (flushing || queue.length === 0) return;
    flushing = true;
    const taken = queue.slice(0, MAX_BATCH);
    queue = queue.slice(taken.length);
    // Guarded records last: a guard that fails then stops the append after every record with a
    // follower (whose write is sent before the reply) has landed.
    const batch = [...taken.filter((p) => !p.guard), ...taken.filter((p) => p.guard)];
    const [seqBefore, prevBefore] = [seq, prev];
    const argv: string[] = [chain, String(opts.maxRecords), keys.prefix, String(UNSTORED_GRANT_TTL_SEC), ''];
    const sealed = batch.map((p) => {
      seq += 1;
      const { at_ms, client_id, grant_id, id, inputs, kind, outcome, policy_version, reasons, task_id } = p.input;
      // Built in canonical key order, so canonicalJson copies only what callers left out of order.
      const body = { at_ms, chain, client_id, grant_id, id, inputs, kind, outcome, policy_version, prev, reasons, seq, task_id } satisfies Record<
        keyof Omit<DecisionRecord, 'hash'>,
        unknown
      >;
      const canonical = canonicalJson(body);
      const record = { ...body, hash: sha256(canonical) } as DecisionRecord;
      // Stored as the hashed text plus its hash: one serialisation per record, not two.
      argv.push(`${canonical.slice(0, -1)},"hash":${JSON.stringify(record.hash)}}`, record.grant_id ?? '', p.clearsPendingOf ? record.id : '');
      if (p.guard) argv.push(String(1 + GUARD_ARG_COUNT), JSON.stringify({ seq: seq - 1, hash: body.prev }), ...guardArgs(keys, p.guard));
      else argv.push('0');
      prev = record.hash;
      return record;
    });
    argv[4] = JSON.stringify({ seq, hash: prev });
    try {
      // The append leaves with the turn's held commands in one socket write, and the writes that
      // follow it in a second one: Redis starts on the append while they are built. Started in
      // the same tick, the followers run after the append.
      const appending = r.mandateAppendDecisions(keys.decisions, keys.auditHeads, ...argv);
      sendHeldWrites();
      const followers = batch.map((p) => (p.followedBy ? settle(p.followedBy) : undefined));
      sendHeldWrites();
      const appended = await appending;
      for (const [i, p] of batch.slice(0, appended).entries()) {
        const record = sealed[i] as DecisionRecord;
        const follower = followers[i];
        if (follower) void follower.then((failure) => (failure ? p.reject(failure.err) : p.resolve(record)));
        else p.resolve(record);
      }
      const refused = batch[appended];
      if (refused) {
        // The chain goes on from the last record appended. The guarded records behind the refused
        // one that are about the same grant are refused with it (they were decided on the same
        // state); the others are sealed again, first in the next batch.
        seq = seqBefore + appended;
        prev = appended > 0 ? (sealed[appended - 1] as DecisionRecord).hash : prevBefore;
        const rest = batch.slice(appended + 1);
        const sameGrant = (p: Pending) => p.guard?.grantId === refused.guard?.grantId;
        for (const p of [refused, ...rest.filter(sameGrant)]) p.reject(new StateChanged());
        queue = [...rest.filter((p) => !sameGrant(p)), ...queue];
      }
    } catch (err) {
      chain = newChainId();
      seq = 0;
      prev = '';
      for (const p of batch) p.reject(new StoreUnavailable(err));
    } finally {
      flushing = false;
      if (queue.length) void flush();
    }
  };

  const readRange = async (start: string, end: string, count: number, reverse: boolean) => {
    const entries = reverse
      ? await redis.xrevrange(keys.decisions, end, start, 'COUNT', count)
      : await redis.xrange(keys.decisions, start, end, 'COUNT', count);
    return entries.map(([id, fields]) => ({ id, record: JSON.parse(fields[1] ?? '{}') as DecisionRecord }));
  };

  /** Records matching `keep`, newest first, scanning back at most 50 pages. */
  const scanNewestFirst = async (limit: number, keep: (r: DecisionRecord) => boolean) => {
    const out: DecisionRecord[] = [];
    let end = '+';
    for (let page = 0; page < 50 && out.length < limit; page += 1) {
      const entries = await readRange('-', end, SCAN_PAGE, true);
      for (const { record } of entries) {
        if (keep(record)) out.push(record);
        if (out.length >= limit) break;
      }
      const last = entries.at(-1);
      if (entries.length < SCAN_PAGE || !last) break;
      end = `(${last.id}`;
    }
    return out;
  };

  return {
    nextId: newRecordId,
    record(input, opts = {}) {
      return new Promise<DecisionRecord>((resolve, reject) => {
        const clearsPendingOf = opts.clearsPendingOf && opts.clearsPendingOf === input.grant_id ? opts.clearsPendingOf : '';
        if (opts.guard && (opts.followedBy || opts.guard.grantId !== input.grant_id)) {
          throw new TypeError('a guarded record is about its guard\'s grant and has no follower');
        }
        queue.push({
          input: { ...input, id: opts.id ?? newRecordId(), at_ms: Date.now() },
          clearsPendingOf,
          followedBy: opts.followedBy,
          guard: opts.guard,
          resolve,
          reject,
        });
        // At the turn's end: every request handled in the turn shares one append, sent before
        // the turn's after-write work (a mint's signature) starts.
        if (!flushing && !scheduled) {
          scheduled = true;
          atTurnEnd(() => {
            scheduled = false;
            void flush();
          });
        }
      });
    },

    list: (query) =>
      guard(async () => {
        if (query.grant_id) {
          const index = (await redis.pipeline().hget(keys.grant(query.grant_id), 'h').get(keys.grantHistory(query.grant_id)).exec()) ?? [];
          const [first, rest] = index.map(([err, value]) => {
            if (err) throw err;
            return value as string | null;
          });
          // The index ends with the grant; an ended grant's records are looked for in the stream.
          if (!first) return (await scanNewestFirst(query.limit, (r) => r.grant_id === query.grant_id)).reverse();
          const ids = [first, ...(rest ?? '').split(',').filter(Boolean)].slice(-query.limit);
          const p = redis.pipeline();
          for (const id of ids) p.xrange(keys.decisions, id, id);
          const replies = (await p.exec()) ?? [];
          return replies.flatMap(([, entries]) =>
            (entries as Array<[string, string[]]>).map(([, f]) => JSON.parse(f[1] ?? '{}') as DecisionRecord),
          );
        }
        return scanNewestFirst(query.limit, (r) => !query.client_id || r.client_id === query.client_id);
      }),

    verify: () =>
      guard(async (): Promise<AuditVerdict> => {
        const rawHeads = await redis.hgetall(keys.auditHeads);
        const first = (await redis.xrange(keys.decisions, '-', '+', 'COUNT', 1))[0]?.[0];
        // A head whose last record retention trimmed away says nothing about what is left.
        const heads = new Map(
          Object.entries(rawHeads)
            .map(([c, v]) => [c, JSON.parse(v) as { seq: number; hash: string; sid: string }] as const)
            .filter(([, h]) => first !== undefined && compareStreamIds(h.sid, first) >= 0),
        );
        const verifier = createChainVerifier(sha256, heads);
        let start = '-';
        for (;;) {
          const entries = await readRange(start, '+', SCAN_PAGE, false);
          for (const { record } of entries) if (verifier.add(record)) return verifier.finish();
          const last = entries.at(-1);
          if (entries.length < SCAN_PAGE || !last) break;
          start = `(${last.id}`;
        }
        return verifier.finish();
      }),
  };
}

/** Runs the write now; resolves with its failure, if any (so an append that fails first leaves no unhandled rejection). */
function settle(write: () => Promise<unknown>): Promise<{ err: unknown } | undefined> {
  try {
    return write().then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
  } catch (err) {
    return Promise.resolve({ err });
  }
}

function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function newChainId(): string {
  return `c-${randomBase64url(9)}`;
}

/** Time-ordered, unique record ids: milliseconds then randomness. */
export function newRecordId(): string {
  return `d-${Date.now().toString(36)}-${randomBase64url(8)}`;
}
