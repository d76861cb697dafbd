// The decision log: a Redis stream of hash-chained records, one chain per writing process.

import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { randomBase64url } from '../crypto/random-id.ts';
import {
  canonicalJson,
  createChainVerifier,
  type DecisionInput,
  type DecisionRecord,
  type SharedInputsRef,
  sharedRefOf,
} from '../domain/decision-record.ts';
import { StateChanged, StoreUnavailable } from '../domain/errors.ts';
import type { AuditVerdict, DecisionLog } from '../domain/ports.ts';
import { GRANT_FIELDS } from './grant-fields.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';
import { atTurnEnd } from './turn-end.ts';

/**
 * A grant's history string keeps at least the newest MAX_DECISIONS_PER_QUERY (1000) ids (a stream
 * id and its comma take at most 21 bytes), cut back when twice that: a grant evaluated all day costs at
 * most 48 KiB, and each cut copies 24 KiB once per thousand records or more.
 */
const HISTORY_KEEP_BYTES = 24 * 1024;
const HISTORY_MAX_BYTES = 2 * HISTORY_KEEP_BYTES;

/**
 * How long a grant hash created by a record lives until the grant store sets the grant's deadline
 * (a mint is stored milliseconds after its record; one that never is, or a record about a grant
 * already ended, leaves only this).
 */
const UNSTORED_GRANT_TTL_SEC = 3600;
const MAX_BATCH = 256;
/**
 * Batches sent and not yet answered, at most: the next turn's records go out while Redis runs
 * the last ones, so the broker never waits idle on the log (see flush for how order holds).
 */
const MAX_IN_FLIGHT = 4;
/** Most records one read of the stream asks for. */
const SCAN_PAGE = 2000;
/**
 * Bytes of record text one read of the stream aims at: pages are sized from the largest record
 * read so far (at least PAGE_RECORD_GUESS), so no single command carries a log of large records
 * at once and outlives the request-path client's command timeout.
 */
const PAGE_BYTES = 8 * 1024 * 1024;
const PAGE_RECORD_GUESS = 128 * 1024;
/** Records a client-filtered listing reads back through at most (as 50 pages of 2000 did). */
const MAX_SCANNED = 100_000;
/** Records of a grant's history read per pipeline. */
const HISTORY_CHUNK = 64;

/**
 * A condition a record's append checks atomically before appending it (see the append script):
 * the keys and fields of its Lua include's `precondition_holds`, in its order. Opaque to the log,
 * which only passes them through (the evaluation store contributes the evaluation guard's);
 * `scope` names what the condition is about (records of one scope behind a refused one are
 * refused with it: decided on the same state).
 */
export interface AppendPrecondition {
  readonly scope: string;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** What the Redis decision log adds to the port: an append on a precondition. */
export interface ConditionalAppend {
  /**
   * Appends the record only if `precondition` holds, atomically with the append (the same
   * batched round trip as any record); rejects with StateChanged (nothing written) when it does not.
   */
  recordIf(input: DecisionInput, precondition: AppendPrecondition): Promise<DecisionRecord>;
}

/** One-shot hashing: no Hash object per record. */
export const sha256 = (text: string) => hash('sha256', text, 'base64url');

interface Pending {
  readonly input: Omit<DecisionRecord, 'chain' | 'seq' | 'prev' | 'hash'>;
  readonly clearsPendingOf: string;
  readonly followedBy: (() => Promise<unknown>) | undefined;
  /** Checked atomically before the append (opaque here: its keys and fields, see AppendPrecondition). */
  readonly precondition: AppendPrecondition | undefined;
  readonly resolve: (r: DecisionRecord, sid: string) => void;
  readonly reject: (e: unknown) => void;
}

interface ScriptedRedis extends Redis {
  /** The key count first: four fixed keys, then each record's (see scripts/appendDecisions.lua). */
  mandateAppendDecisions(
    numberOfKeys: number,
    stream: string,
    heads: string,
    bytes: string,
    marks: string,
    ...keysThenArgv: string[]
  ): Promise<string[]>;
}

/** Limits of the decision log (config `audit`). */
export interface DecisionLogLimits {
  /** Records kept (approximate trim). */
  readonly maxRecords: number;
  /** Bytes of record text kept (trimmed by marks, see the append script). Default 1 GiB. */
  readonly maxBytes?: number | undefined;
  /** Largest record text; a record whose inputs would make it larger keeps only their size and digest. Default 1 MiB. */
  readonly maxRecordBytes?: number | undefined;
}

export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
/** Byte marks per cap: the byte trim keeps within 1/64 of the cap under it. */
const MARKS_PER_CAP = 64;

/**
 * Records are sealed (seq, prev, hash) when flushed, a batch at a time, and the batches go out in
 * the order sealed on one connection, so a chain's order in the stream is its order of sealing.
 * Up to MAX_IN_FLIGHT batches are sent before the first is answered; each names the chain's seq
 * it follows, and the append script refuses it (MANDATE_CHAIN_GAP, nothing written) unless the
 * chain's head is there: a batch sealed behind one that failed never lands with a gap before it.
 * A failed batch may or may not have landed: the writer then starts a new chain rather than risk
 * a gap in the old one. Nothing is sealed behind a batch holding a conditional record until it
 * is answered (a refused one rewinds the chain to the record before it). A record's
 * `followedBy` write is started right behind its batch's append (and the grant store refuses a
 * grant whose record did not land).
 */
export function createRedisDecisionLog(
  redis: RedisClient,
  keys: KeyNames,
  opts: DecisionLogLimits,
): DecisionLog & ConditionalAppend {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'appendDecisions');
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const markStep = String(Math.max(1, Math.floor(maxBytes / MARKS_PER_CAP)));
  let chain = newChainId();
  let seq = 0;
  let prev = '';
  let queue: Pending[] = [];
  let inFlight = 0;
  /** A batch holding a conditional record is in flight: nothing is sealed behind it. */
  let conditionalInFlight = false;
  let scheduled = false;

  const flush = async () => {
    if (inFlight >= MAX_IN_FLIGHT || conditionalInFlight || queue.length === 0) return;
    inFlight += 1;
    const taken = queue.slice(0, MAX_BATCH);
    queue = queue.slice(taken.length);
    // Conditional records last: a precondition that fails then stops the append after every
    // record with a follower (whose write is sent before the reply) has landed.
    const batch = [...taken.filter((p) => !p.precondition), ...taken.filter((p) => p.precondition)];
    const conditional = batch.some((p) => p.precondition);
    if (conditional) conditionalInFlight = true;
    const [batchChain, seqBefore, prevBefore] = [chain, seq, prev];
    // The append script's (scripts/appendDecisions.lua) KEYS after its first four, and its ARGV:
    // eight header fields, then the records.
    const recordKeys: string[] = [];
    const argv: string[] = [
      chain,
      String(opts.maxRecords),
      String(UNSTORED_GRANT_TTL_SEC),
      '',
      String(maxBytes),
      markStep,
      String(HISTORY_MAX_BYTES),
      String(HISTORY_KEEP_BYTES),
    ];
    let sealed: DecisionRecord[];
    try {
      sealed = batch.map((p) => {
        seq += 1;
        const {
          at_ms,
          client_id,
          grant_id,
          id,
          inputs,
          kind,
          outcome,
          policy_version,
          reasons,
          task_id,
        } = p.input;
        // Built in canonical key order, so canonicalJson copies only what callers left out of order.
        let body = {
          at_ms,
          chain,
          client_id,
          grant_id,
          id,
          inputs,
          kind,
          outcome,
          policy_version,
          prev,
          reasons,
          seq,
          task_id,
        } satisfies Record<keyof Omit<DecisionRecord, 'hash'>, unknown>;
        let canonical = canonicalJson(body);
        if (
          canonical.length * 3 > maxRecordBytes &&
          Buffer.byteLength(canonical) > maxRecordBytes
        ) {
          // Too large to keep (the caps on what requests send make this rare): the decision is kept,
          // its inputs only as their size and digest, so a copy kept elsewhere can still be matched.
          const text = canonicalJson(inputs);
          body = {
            ...body,
            inputs: { omitted: { bytes: Buffer.byteLength(text), sha256: sha256(text) } },
          };
          canonical = canonicalJson(body);
        }
        const record = { ...body, hash: sha256(canonical) } as DecisionRecord;
        // Stored as the hashed text plus its hash: one serialisation per record, not two.
        const grantId = record.grant_id ?? '';
        argv.push(
          `${canonical.slice(0, -1)},"hash":${JSON.stringify(record.hash)}}`,
          grantId,
          p.clearsPendingOf ? record.id : '',
        );
        const { precondition } = p;
        if (grantId || precondition)
          recordKeys.push(keys.grant(grantId), keys.grantHistory(grantId));
        if (precondition) {
          recordKeys.push(...precondition.keys);
          argv.push(
            String(2 + precondition.args.length),
            JSON.stringify({ seq: seq - 1, hash: body.prev }),
            String(precondition.keys.length),
            ...precondition.args,
          );
        } else argv.push('0');
        prev = record.hash;
        return record;
      });
    } catch {
      // A record that cannot be serialised (inputs nested past the stack: the parse-time JSON
      // bounds keep requests from sending one) is refused alone; the rest go out next, and the log
      // never stays stuck with its batch counted in flight or throws out of this un-awaited flush.
      [seq, prev] = [seqBefore, prevBefore];
      const serialisable = (p: Pending) => {
        try {
          canonicalJson(p.input.inputs);
          return true;
        } catch (err) {
          p.reject(err);
          return false;
        }
      };
      queue = [...batch.filter(serialisable), ...queue];
      inFlight -= 1;
      if (conditional) conditionalInFlight = false;
      if (queue.length) void flush();
      return;
    }
    // The head after this batch, and the seq it follows (the script's gap check).
    argv[3] = JSON.stringify({ seq, hash: prev, base: seqBefore });
    try {
      // Started in the same tick as the append (one pipeline), the followers run after it.
      const appending = r.mandateAppendDecisions(
        4 + recordKeys.length,
        keys.decisions,
        keys.auditHeads,
        keys.auditBytes,
        keys.auditByteMarks,
        ...recordKeys,
        ...argv,
      );
      const followers = batch.map((p) => (p.followedBy ? settle(p.followedBy) : undefined));
      // What arrived meanwhile goes out behind this batch, without waiting for its answer.
      if (queue.length) void flush();
      const sids = await appending;
      const appended = sids.length;
      for (const [i, p] of batch.slice(0, appended).entries()) {
        const record = sealed[i] as DecisionRecord;
        const sid = sids[i] as string;
        const follower = followers[i];
        if (follower)
          void follower.then((failure) =>
            failure ? p.reject(failure.err) : p.resolve(record, sid),
          );
        else p.resolve(record, sid);
      }
      const refused = batch[appended];
      if (refused) {
        // The chain goes on from the last record appended. The conditional records behind the
        // refused one of the same scope (for an evaluation guard, the same grant) are refused with
        // it (they were decided on the same state); the others are sealed again, first in the next batch.
        // Nothing was sealed behind this batch; a chain restarted meanwhile (an earlier batch
        // failed) is left as it is.
        if (chain === batchChain) {
          seq = seqBefore + appended;
          prev = appended > 0 ? (sealed[appended - 1] as DecisionRecord).hash : prevBefore;
        }
        const rest = batch.slice(appended + 1);
        const sameGrant = (p: Pending) => p.precondition?.scope === refused.precondition?.scope;
        for (const p of [refused, ...rest.filter(sameGrant)]) p.reject(new StateChanged());
        queue = [...rest.filter((p) => !sameGrant(p)), ...queue];
      }
    } catch (err) {
      // The batches sealed behind this one on the same chain are refused by the script's gap
      // check if this one did not land; the chain is restarted once, by its first failure.
      if (chain === batchChain) {
        chain = newChainId();
        seq = 0;
        prev = '';
      }
      for (const p of batch) p.reject(new StoreUnavailable(err));
    } finally {
      inFlight -= 1;
      if (conditional) conditionalInFlight = false;
      if (queue.length) void flush();
    }
  };

  /**
   * The stream from `start` to `end` (exclusive bounds as `(id`), oldest first or newest first, a
   * page at a time: each page is sized so that it carries about PAGE_BYTES of the largest records
   * read so far, so a log of large records is read in many small commands, not one that times out.
   */
  async function* readPages(start: string, end: string, reverse: boolean) {
    let largest = PAGE_RECORD_GUESS;
    for (;;) {
      const count = Math.max(1, Math.min(SCAN_PAGE, Math.floor(PAGE_BYTES / largest)));
      const entries = reverse
        ? await redis.xrevrange(keys.decisions, end, start, 'COUNT', count)
        : await redis.xrange(keys.decisions, start, end, 'COUNT', count);
      const page = entries.map(([id, fields]) => {
        const text = fields[1] ?? '{}';
        largest = Math.max(largest, text.length);
        return { id, record: JSON.parse(text) as DecisionRecord };
      });
      yield page;
      const last = page.at(-1);
      if (page.length < count || !last) return;
      if (reverse) end = `(${last.id}`;
      else start = `(${last.id}`;
    }
  }

  /** Records matching `keep`, newest first, reading back through at most MAX_SCANNED records. */
  const scanNewestFirst = async (limit: number, keep: (r: DecisionRecord) => boolean) => {
    const out: DecisionRecord[] = [];
    let scanned = 0;
    for await (const page of readPages('-', '+', true)) {
      for (const { record } of page) {
        if (keep(record)) out.push(record);
        if (out.length >= limit) return out;
      }
      scanned += page.length;
      if (scanned >= MAX_SCANNED) break;
    }
    return out;
  };

  const enqueue = (
    input: DecisionInput,
    opts: NonNullable<Parameters<DecisionLog['record']>[1]> & {
      precondition?: AppendPrecondition | undefined;
    },
    resolve: Pending['resolve'],
    reject: Pending['reject'],
  ) => {
    const clearsPendingOf =
      opts.clearsPendingOf && opts.clearsPendingOf === input.grant_id ? opts.clearsPendingOf : '';
    queue.push({
      input: { ...input, id: opts.id ?? newRecordId(), at_ms: Date.now() },
      clearsPendingOf,
      followedBy: opts.followedBy,
      precondition: opts.precondition,
      resolve,
      reject,
    });
    // At the turn's end: every request handled in the turn shares one append, sent before
    // the turn's after-write work starts, behind the batches still in flight (see flush).
    if (!scheduled) {
      scheduled = true;
      atTurnEnd(() => {
        scheduled = false;
        void flush();
      });
    }
  };

  return {
    nextId: newRecordId,
    record: (input, opts = {}) =>
      new Promise<DecisionRecord>((resolve, reject) => enqueue(input, opts, resolve, reject)),

    recordIf: (input, precondition) =>
      new Promise<DecisionRecord>((resolve, reject) =>
        enqueue(input, { precondition }, resolve, reject),
      ),

    recordShared: (input) =>
      new Promise<SharedInputsRef>((resolve, reject) =>
        enqueue(
          { ...input, kind: 'inputs' },
          {},
          (record, sid) => resolve({ record: record.id, sid, hash: record.hash }),
          reject,
        ),
      ),

    list: (query) =>
      guard(async () => {
        if (query.grant_id) {
          const index =
            (await redis
              .pipeline()
              .hget(keys.grant(query.grant_id), GRANT_FIELDS.firstRecord)
              .get(keys.grantHistory(query.grant_id))
              .exec()) ?? [];
          const [first, rest] = index.map(([err, value]) => {
            if (err) throw err;
            return value as string | null;
          });
          // The index ends with the grant; an ended grant's records are looked for in the stream.
          if (!first)
            return (
              await scanNewestFirst(query.limit, (r) => r.grant_id === query.grant_id)
            ).reverse();
          const ids = [first, ...(rest ?? '').split(',').filter(Boolean)].slice(-query.limit);
          const out: DecisionRecord[] = [];
          // In chunks: one pipeline of a thousand large records would be one very large reply.
          for (let at = 0; at < ids.length; at += HISTORY_CHUNK) {
            const p = redis.pipeline();
            for (const id of ids.slice(at, at + HISTORY_CHUNK)) p.xrange(keys.decisions, id, id);
            for (const [err, entries] of (await p.exec()) ?? []) {
              if (err) throw err;
              for (const [, f] of entries as Array<[string, string[]]>)
                out.push(JSON.parse(f[1] ?? '{}') as DecisionRecord);
            }
          }
          return out;
        }
        return scanNewestFirst(
          query.limit,
          (r) => !query.client_id || r.client_id === query.client_id,
        );
      }),

    sharedInputs: (records) =>
      guard(async () => {
        const refs = new Map<string, SharedInputsRef>();
        for (const record of records) {
          const ref = sharedRefOf(record);
          if (ref) refs.set(ref.record, ref);
        }
        const out: Record<string, Record<string, unknown> | null> = {};
        if (refs.size === 0) return out;
        const wanted = [...refs.values()];
        const p = redis.pipeline();
        for (const ref of wanted) p.xrange(keys.decisions, ref.sid, ref.sid);
        const replies = (await p.exec()) ?? [];
        for (const [i, ref] of wanted.entries()) {
          const [err, entries] = replies[i] ?? [];
          if (err) throw err;
          const text = (entries as Array<[string, string[]]> | undefined)?.[0]?.[1][1];
          const shared = text ? (JSON.parse(text) as DecisionRecord) : undefined;
          // Trimmed by retention, changed, or not the record the reference names: shown as unknown, never as another's inputs.
          out[ref.record] =
            shared && shared.id === ref.record && hashOfRecord(shared) === ref.hash
              ? shared.inputs
              : null;
        }
        return out;
      }),

    page: (from, limit) =>
      guard(async () => {
        const start =
          'after' in from ? `(${from.after}` : `${Math.max(0, Math.floor(from.sinceMs))}-0`;
        const entries = await redis.xrange(keys.decisions, start, '+', 'COUNT', limit);
        return entries.map(([sid, fields]) => ({
          sid,
          record: JSON.parse(fields[1] ?? '{}') as DecisionRecord,
        }));
      }),

    verify: () =>
      guard(async (): Promise<AuditVerdict> => {
        const rawHeads = await redis.hgetall(keys.auditHeads);
        const first = (await redis.xrange(keys.decisions, '-', '+', 'COUNT', 1))[0]?.[0];
        // A head whose last record retention trimmed away says nothing about what is left.
        const heads = new Map(
          Object.entries(rawHeads)
            .map(
              ([c, v]) => [c, JSON.parse(v) as { seq: number; hash: string; sid: string }] as const,
            )
            .filter(([, h]) => first !== undefined && compareStreamIds(h.sid, first) >= 0),
        );
        // Trimming (by count or by bytes) only ever removes the oldest records, so what is left
        // starts each chain at some record that anchors it (see createChainVerifier).
        const verifier = createChainVerifier(sha256, heads);
        for await (const page of readPages('-', '+', false)) {
          for (const { record } of page) if (verifier.add(record)) return verifier.finish();
        }
        return verifier.finish();
      }),
  };
}

/** The hash a record's content gives (its `hash` when unchanged). */
function hashOfRecord(r: DecisionRecord): string {
  const { hash: _stored, ...body } = r;
  return sha256(canonicalJson(body));
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
