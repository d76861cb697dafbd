// The decision log: a Redis stream of hash-chained records, one chain per writing process.
import { randomBase64url } from '../crypto/random-id.ts';
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type DecisionRecord, canonicalJson, createChainVerifier } from '../domain/decision-record.ts';
import type { AuditVerdict, DecisionLog } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';
import { writeBatchOf } from './redis-write-batch.ts';

/**
 * A write-batch op (see redis-write-batch.ts) appending one sealed record.
 * KEYS: 1 stream, 2 chain heads hash
 * ARGV: 1 chain id, 2 max records (approximate trim), 3 key prefix, 4 history ttl (s), 5 record JSON,
 *       6 grant id or '', 7 record id whose pending-record marker on the grant this append clears
 *       or '', 8 seq, 9 hash
 * Appends the record, indexes it under its grant's history, clears the grant's pending-record
 * marker when it names this record (atomically with the append), and, once per batch, moves the
 * chain head to the batch's last record of the chain (adding `sid`, its stream id, so retention
 * trimming can be told apart from deletion).
 * (The history keys are derived here, so this op is not Redis Cluster safe yet.)
 */
const APPEND_OP = `function(KEYS, ARGV)
  local sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'r', ARGV[5])
  local gid = ARGV[6]
  if gid ~= '' then
    local hk = ARGV[3] .. '{g:' .. gid .. '}:hist'
    redis.call('APPEND', hk, sid .. ',')
    redis.call('EXPIRE', hk, ARGV[4])
    if ARGV[7] ~= '' then
      local gk = ARGV[3] .. '{g:' .. gid .. '}'
      local pr = redis.call('HGET', gk, 'pr')
      if pr and cjson.decode(pr).id == ARGV[7] then redis.call('HDEL', gk, 'pr') end
    end
  end
  local heads, chain, seq, hash = KEYS[2], ARGV[1], tonumber(ARGV[8]), ARGV[9]
  after['head:' .. chain] = function()
    redis.call('HSET', heads, chain, cjson.encode({ seq = seq, hash = hash, sid = sid }))
  end
  return 1
end`;

const HISTORY_TTL_SEC = 2 * 86_400;
const SCAN_PAGE = 2000;

export const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * Records are sealed (seq, prev, hash) when their write batch is sent, one call in flight at a
 * time, so a chain's order in the stream is its order of sealing. A failed call may or may not
 * have landed: the writer then starts a new chain rather than risk a gap in the old one.
 */
export function createRedisDecisionLog(redis: Redis, keys: KeyNames, settings: { maxRecords: number }): DecisionLog {
  const writes = writeBatchOf(redis);
  writes.register('append_decision', APPEND_OP);
  let chain = newChainId();
  let seq = 0;
  let prev = '';
  const restartChain = () => {
    chain = newChainId();
    seq = 0;
    prev = '';
  };

  const readRange = async (start: string, end: string, count: number, reverse: boolean) => {
    const entries = reverse
      ? await redis.xrevrange(keys.decisions, end, start, 'COUNT', count)
      : await redis.xrange(keys.decisions, start, end, 'COUNT', count);
    return entries.map(([id, fields]) => ({ id, record: JSON.parse(fields[1] ?? '{}') as DecisionRecord }));
  };

  return {
    nextId: newRecordId,
    async record(input, opts = {}) {
      const clearsPendingOf = opts.clearsPendingOf && opts.clearsPendingOf === input.grant_id ? opts.clearsPendingOf : '';
      const unsealed = { ...input, id: opts.id ?? newRecordId(), at_ms: Date.now() };
      let sealed: DecisionRecord | undefined;
      await writes.submit({
        op: 'append_decision',
        keys: [keys.decisions, keys.auditHeads],
        args: () => {
          seq += 1;
          const body = { ...unsealed, chain, seq, prev };
          const canonical = canonicalJson(body);
          const hash = sha256(canonical);
          sealed = { ...body, hash } as DecisionRecord;
          prev = hash;
          // Stored as the hashed text plus its hash: one serialisation per record, not two.
          const text = `${canonical.slice(0, -1)},"hash":${JSON.stringify(hash)}}`;
          const grantId = unsealed.grant_id ?? '';
          return [chain, String(settings.maxRecords), keys.prefix, String(HISTORY_TTL_SEC), text, grantId, clearsPendingOf ? unsealed.id : '', String(seq), hash];
        },
        failed: restartChain,
      });
      return sealed as DecisionRecord;
    },

    list: (query) =>
      guard(async () => {
        if (query.grant_id) {
          const ids = ((await redis.get(keys.grantHistory(query.grant_id))) ?? '').split(',').filter(Boolean);
          const p = redis.pipeline();
          for (const id of ids) p.xrange(keys.decisions, id, id);
          const replies = (await p.exec()) ?? [];
          const records = replies.flatMap(([, entries]) =>
            (entries as Array<[string, string[]]>).map(([, f]) => JSON.parse(f[1] ?? '{}') as DecisionRecord),
          );
          return records.slice(-query.limit);
        }
        const out: DecisionRecord[] = [];
        let end = '+';
        // Newest first; a client filter scans back at most 50 pages.
        for (let page = 0; page < 50 && out.length < query.limit; page += 1) {
          const entries = await readRange('-', end, SCAN_PAGE, true);
          for (const { record } of entries) {
            if (!query.client_id || record.client_id === query.client_id) out.push(record);
            if (out.length >= query.limit) break;
          }
          const last = entries.at(-1);
          if (entries.length < SCAN_PAGE || !last) break;
          end = `(${last.id}`;
        }
        return out;
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
