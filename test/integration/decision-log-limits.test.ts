// The decision log's bounds on a real Redis: a byte cap as well as a count cap, a cap on one record,
// shared batch inputs stored once and checked by the chain, and reads of a log of large records.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DecisionRecord } from '../../src/domain/decision-record.ts';
import { canonicalJson } from '../../src/domain/decision-record.ts';
import { createKeyNames, type KeyNames } from '../../src/store/key-names.ts';
import { createRedisDecisionLog, sha256 } from '../../src/store/redis-decision-log.ts';
import { deleteKeysUnder } from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';

const redisUrl = () => inject('redisUrl');
const KB = 1024;
const MB = 1024 * KB;

/** A record whose inputs hold about `bytes` of text. */
const sized = (bytes: number, n: number, client_id = 'agent') => ({
  kind: 'evaluation' as const,
  outcome: 'permit',
  reasons: ['permit'],
  client_id,
  inputs: { n, blob: 'x'.repeat(bytes) },
});

/** Bytes of record text the stream holds, and how many records. */
async function streamBytes(
  redis: Redis,
  keys: KeyNames,
): Promise<{ bytes: number; records: number }> {
  let bytes = 0;
  let records = 0;
  let start = '-';
  for (;;) {
    const page = await redis.xrange(keys.decisions, start, '+', 'COUNT', 100);
    for (const [, fields] of page) {
      bytes += Buffer.byteLength(fields[1] ?? '');
      records += 1;
    }
    if (page.length < 100) return { bytes, records };
    start = `(${page.at(-1)?.[0]}`;
  }
}

describe('decision log limits', () => {
  let redis: Redis;
  // As on the request path: every command must answer within a second.
  let requestPath: Redis;
  const prefixes: string[] = [];
  const keysFor = (name: string) => {
    const prefix = uniquePrefix(name);
    prefixes.push(prefix);
    return createKeyNames(prefix);
  };

  beforeAll(async () => {
    redis = new Redis(redisUrl());
    requestPath = new Redis(redisUrl(), {
      commandTimeout: 1000,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    await requestPath.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    requestPath?.disconnect();
    for (const prefix of prefixes) await deleteKeysUnder(redisUrl(), prefix);
  });

  it('trims the stream by bytes, to within 1/64 of the cap, and the trimmed log still verifies', async () => {
    const keys = keysFor('log-bytes');
    const maxBytes = 2 * MB;
    const log = createRedisDecisionLog(redis, keys, {
      maxRecords: 100_000,
      maxBytes,
      maxRecordBytes: 256 * KB,
    });
    // 8 MiB appended, in batches and one by one.
    await Promise.all(Array.from({ length: 80 }, (_, i) => log.record(sized(50 * KB, i))));
    for (let i = 80; i < 160; i++) await log.record(sized(50 * KB, i));
    const held = await streamBytes(redis, keys);
    expect(held.bytes).toBeLessThanOrEqual(maxBytes);
    expect(held.bytes).toBeGreaterThan(maxBytes - maxBytes / 64 - 60 * KB);
    expect(held.records).toBeLessThan(45);
    // The byte marks stay about one per 1/64 of the cap.
    expect(await redis.llen(keys.auditByteMarks)).toBeLessThanOrEqual(66);
    expect(await log.verify()).toMatchObject({ ok: true, records: held.records });
  });

  it('keeps a record too large for audit.max_record_bytes as its decision with its inputs size and digest', async () => {
    const keys = keysFor('log-record-cap');
    const log = createRedisDecisionLog(redis, keys, { maxRecords: 1000, maxRecordBytes: 64 * KB });
    const big = sized(100 * KB, 1);
    const record = await log.record(big);
    const text = canonicalJson(big.inputs);
    expect(record.inputs).toEqual({
      omitted: { bytes: Buffer.byteLength(text), sha256: sha256(text) },
    });
    expect(record).toMatchObject({ kind: 'evaluation', outcome: 'permit', client_id: 'agent' });
    const small = await log.record(sized(1 * KB, 2));
    expect(small.inputs.n).toBe(2);
    const held = await streamBytes(redis, keys);
    expect(held.bytes).toBeLessThan(8 * KB);
    expect(await log.verify()).toEqual({ ok: true, records: 2 });
  });

  it('stores shared inputs once, resolves them when reading, and detects a change to them', async () => {
    const keys = keysFor('log-shared');
    const log = createRedisDecisionLog(redis, keys, { maxRecords: 1000 });
    const context = { ip: '203.0.113.9', notes: 'n'.repeat(100 * KB) };
    const ref = await log.recordShared({
      outcome: 'shared',
      reasons: [],
      inputs: { caller: 'rs', context },
    });
    const decisions = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        log.record({
          kind: 'evaluation',
          outcome: 'permit',
          reasons: [],
          client_id: 'agent',
          inputs: { action: `a${i}`, shared_context: ref },
        }),
      ),
    );
    const held = await streamBytes(redis, keys);
    // One copy of the context (100 KiB), not a hundred.
    expect(held.bytes).toBeLessThan(150 * KB);
    expect(await log.verify()).toEqual({ ok: true, records: 101 });

    const listed = await log.list({ client_id: 'agent', limit: 1000 });
    expect(listed).toHaveLength(100);
    expect(await log.sharedInputs(listed)).toEqual({ [ref.record]: { caller: 'rs', context } });
    expect(await log.sharedInputs(decisions.slice(0, 1))).toEqual({
      [ref.record]: { caller: 'rs', context },
    });

    // Rewrite the stream with the shared context changed (its hash recomputed too): the chain
    // check finds the change whichever way it is hidden.
    const entries = await redis.xrange(keys.decisions, '-', '+');
    const rewrite = async (edit: (r: DecisionRecord) => DecisionRecord) => {
      const p = redis.multi().del(keys.decisions);
      for (const [id, fields] of entries) {
        const r = JSON.parse(fields[1] ?? '{}') as DecisionRecord;
        p.xadd(keys.decisions, id, 'r', JSON.stringify(r.kind === 'inputs' ? edit(r) : r));
      }
      await p.exec();
    };
    const forged = (r: DecisionRecord) => ({
      ...r,
      inputs: { ...r.inputs, context: { ...context, ip: '198.51.100.1' } },
    });
    await rewrite(forged);
    expect(await log.verify()).toMatchObject({
      ok: false,
      broken: { id: ref.record, problem: 'content does not match its hash' },
    });
    expect(await log.sharedInputs(listed)).toEqual({ [ref.record]: null });
    await rewrite((r) => {
      const { hash: _h, ...body } = forged(r);
      return { ...body, hash: sha256(canonicalJson(body)) } as DecisionRecord;
    });
    expect(await log.verify()).toMatchObject({ ok: false });
    await rewrite((r) => r);
    expect(await log.verify()).toEqual({ ok: true, records: 101 });
  });

  it('verifies and lists a log of 2,000 records of 50 KB through a client with a 1 s command timeout', async () => {
    const keys = keysFor('log-large');
    const writer = createRedisDecisionLog(redis, keys, { maxRecords: 1_000_000 });
    for (let i = 0; i < 2000; i += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, j) =>
          writer.record(sized(50 * KB, i + j, (i + j) % 2 ? 'odd' : 'even')),
        ),
      );
    }
    // Every read of the stream is measured: none may carry the log at once (100 MB here, a few
    // hundred ms on an idle machine, past the 1 s timeout on a loaded one or a larger log).
    let largestReply = 0;
    const measured = requestPath as unknown as Record<
      'xrange' | 'xrevrange',
      (...args: unknown[]) => Promise<Array<[string, string[]]>>
    >;
    for (const name of ['xrange', 'xrevrange'] as const) {
      const read = measured[name].bind(requestPath);
      measured[name] = async (...args: unknown[]) => {
        const entries = await read(...args);
        largestReply = Math.max(
          largestReply,
          entries.reduce((n, [, f]) => n + (f[1]?.length ?? 0), 0),
        );
        return entries;
      };
    }
    const reader = createRedisDecisionLog(requestPath, keys, { maxRecords: 1_000_000 });
    expect(await reader.verify()).toEqual({ ok: true, records: 2000 });
    // (Measured at all: pages of several MB.)
    expect(largestReply).toBeGreaterThan(1 * MB);
    expect(largestReply).toBeLessThanOrEqual(9 * MB);
    const newest = await reader.list({ limit: 1000 });
    expect(newest).toHaveLength(1000);
    expect(newest[0]?.inputs.n).toBe(1999);
    const odd = await reader.list({ client_id: 'odd', limit: 1000 });
    expect(odd).toHaveLength(1000);
    expect(odd.every((r) => r.client_id === 'odd')).toBe(true);
    expect(largestReply).toBeLessThanOrEqual(9 * MB);
  }, 120_000);
});
