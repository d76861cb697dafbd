// Decision records: canonical JSON and the hash chain that makes tampering show.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  type DecisionInput,
  type DecisionRecord,
  verifyChain,
} from '../../src/domain/decision-record.ts';

const hashOf = (canonical: string) => createHash('sha256').update(canonical).digest('base64url');
const T0_MS = 1_704_276_000_000;

/** Writes records as a log writer would: per chain, seq from `startSeq`, prev linking, hash last. */
function writer(chain: string, startSeq = 1, startPrev = '') {
  let seq = startSeq - 1;
  let prev = startPrev;
  return (input: Partial<DecisionInput> = {}): DecisionRecord => {
    seq += 1;
    const body = {
      kind: 'evaluation' as const,
      outcome: 'permit',
      reasons: ['read-style-actions'],
      client_id: 'agent-1',
      grant_id: 'g-1',
      inputs: {
        action: 'read',
        resource: 'https://crm.example.com',
        context: { ip: '203.0.113.9' },
      },
      ...input,
      id: `${chain}-${seq}`,
      at_ms: T0_MS + seq,
      chain,
      seq,
      prev,
    };
    const record = { ...body, hash: hashOf(canonicalJson(body)) };
    prev = record.hash;
    return record;
  };
}

const build = (chain: string, n: number) => {
  const write = writer(chain);
  return Array.from({ length: n }, (_, i) => write({ outcome: i % 2 ? 'deny' : 'permit' }));
};

describe('canonicalJson', () => {
  it('sorts keys at every depth and leaves no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('is independent of key insertion order', () => {
    expect(canonicalJson({ x: 1, y: { p: true, q: null } })).toBe(
      canonicalJson({ y: { q: null, p: true }, x: 1 }),
    );
  });

  it('drops undefined members and writes undefined array items as null, as JSON does', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe(
      JSON.stringify({ b: [null, 1] }),
    );
  });

  it('writes any JSON value exactly as the first (entries/sort/join) version did, so old hashes hold', () => {
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value))
        return `[${Array.from(value, (v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 500 },
    );
  });

  it('copies only the out-of-order parts of a value built mostly in key order, and never changes the value', () => {
    const value = { a: 1, b: { y: [{ q: 1, p: 2 }], z: new Date(T0_MS) }, c: [3, { d: 4 }] };
    const before = JSON.stringify(value);
    expect(canonicalJson(value)).toBe(
      `{"a":1,"b":{"y":[{"p":2,"q":1}],"z":${JSON.stringify(new Date(T0_MS))}},"c":[3,{"d":4}]}`,
    );
    expect(JSON.stringify(value)).toBe(before);
    expect(Object.keys(value.b.y[0] as object)).toEqual(['q', 'p']);
  });

  it('keeps a member named __proto__ (JSON.parse makes one; found by the property above)', () => {
    const parsed = JSON.parse(
      '{"b":1,"__proto__":{"x":false},"a":[{"__proto__":null}]}',
    ) as unknown;
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"x":false},"a":[{"__proto__":null}],"b":1}');
  });

  it('orders integer-like keys as text too (objects list them first)', () => {
    expect(canonicalJson({ a: 3, 10: 2, 9: 1, nested: [{ 2: 'x', 1: 'y' }] })).toBe(
      '{"10":2,"9":1,"a":3,"nested":[{"1":"y","2":"x"}]}',
    );
  });

  it('writes scalars as JSON does', () => {
    expect(canonicalJson('é"\n')).toBe(JSON.stringify('é"\n'));
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(1e21)).toBe('1e+21');
  });

  it('sorts keys by code unit, not locale', () => {
    expect(canonicalJson({ b: 1, B: 2, a: 3, é: 4 })).toBe('{"B":2,"a":3,"b":1,"é":4}');
  });

  it('is stable through a JSON round trip', () => {
    const value = { z: [{ b: 2, a: 1 }], a: 'x', m: { n: null } };
    const once = canonicalJson(value);
    expect(canonicalJson(JSON.parse(once))).toBe(once);
  });

  // A Date serialises to its ISO string through JSON.stringify; canonicalJson must agree, or a
  // record written with a Date in its inputs fails verification once read back from storage.
  it('agrees with JSON.stringify on values with toJSON (Date)', () => {
    const value = { at: new Date(T0_MS) };
    expect(canonicalJson(value)).toBe(canonicalJson(JSON.parse(JSON.stringify(value))));
  });
});

describe('verifyChain', () => {
  it('accepts an honest chain and counts its records', () => {
    expect(verifyChain(build('a', 5), hashOf)).toEqual({ ok: true, records: 5 });
  });

  it('accepts an empty log', () => {
    expect(verifyChain([], hashOf)).toEqual({ ok: true, records: 0 });
  });

  it('accepts several chains interleaved', () => {
    const a = build('a', 4);
    const b = build('b', 3);
    const log = [a[0], b[0], b[1], a[1], a[2], b[2], a[3]] as DecisionRecord[];
    const heads = new Map([
      ['a', { seq: 4, hash: a[3]?.hash ?? '' }],
      ['b', { seq: 3, hash: b[2]?.hash ?? '' }],
    ]);
    expect(verifyChain(log, hashOf, heads)).toEqual({ ok: true, records: 7 });
  });

  it('accepts a start trimmed by retention', () => {
    expect(verifyChain(build('a', 6).slice(3), hashOf)).toEqual({ ok: true, records: 3 });
  });

  it('accepts a chain that grew after its head was read', () => {
    const log = build('a', 5);
    const heads = new Map([['a', { seq: 3, hash: log[2]?.hash ?? '' }]]);
    expect(verifyChain(log, hashOf, heads).ok).toBe(true);
  });

  it('detects edited content', () => {
    const log = build('a', 4);
    log[2] = { ...(log[2] as DecisionRecord), outcome: 'permit-everything' };
    const result = verifyChain(log, hashOf);
    expect(result).toMatchObject({
      ok: false,
      broken: { id: 'a-3', seq: 3, problem: 'content does not match its hash' },
    });
  });

  it('detects an edit whose hash was recomputed, at the next record', () => {
    const log = build('a', 4);
    const { hash: _old, ...body } = { ...(log[1] as DecisionRecord), reasons: ['forged'] };
    log[1] = { ...body, hash: hashOf(canonicalJson(body)) };
    expect(verifyChain(log, hashOf)).toMatchObject({
      ok: false,
      broken: { id: 'a-3', problem: 'prev does not match the previous record' },
    });
  });

  it('detects an edited nested input', () => {
    const log = build('a', 3);
    const r = log[0] as DecisionRecord;
    log[0] = { ...r, inputs: { ...r.inputs, context: { ip: '198.51.100.1' } } };
    expect(verifyChain(log, hashOf)).toMatchObject({ ok: false, broken: { id: 'a-1' } });
  });

  it('detects a deleted record', () => {
    const log = build('a', 5);
    log.splice(2, 1);
    expect(verifyChain(log, hashOf)).toMatchObject({
      ok: false,
      broken: { id: 'a-4', problem: 'sequence jumps from 2' },
    });
  });

  it('detects reordered records', () => {
    const log = build('a', 5);
    [log[1], log[2]] = [log[2] as DecisionRecord, log[1] as DecisionRecord];
    expect(verifyChain(log, hashOf)).toMatchObject({ ok: false, broken: { id: 'a-3' } });
  });

  it('detects a truncated tail through the heads', () => {
    const log = build('a', 5);
    const heads = new Map([['a', { seq: 5, hash: log[4]?.hash ?? '' }]]);
    const result = verifyChain(log.slice(0, 3), hashOf, heads);
    expect(result).toMatchObject({
      ok: false,
      broken: { chain: 'a', seq: 5, problem: 'chain ends at 3, its head says 5' },
    });
  });

  it('detects a last record replaced by one that differs from the head', () => {
    const log = build('a', 3);
    const heads = new Map([['a', { seq: 3, hash: log[2]?.hash ?? '' }]]);
    const forged = writer('a', 3, log[1]?.hash ?? '')({ outcome: 'forged' });
    expect(verifyChain([log[0], log[1], forged] as DecisionRecord[], hashOf, heads)).toMatchObject({
      ok: false,
      broken: { id: 'a-3', problem: 'record differs from its chain head' },
    });
  });

  it('detects a first record that claims a predecessor', () => {
    const write = writer('a', 1, 'made-up');
    expect(verifyChain([write(), write()], hashOf)).toMatchObject({
      ok: false,
      broken: { seq: 1, problem: 'first record has a prev' },
    });
  });

  it('detects records of one chain deleted while another chain stays intact', () => {
    const a = build('a', 3);
    const b = build('b', 3);
    const log = [a[0], b[0], b[1], a[2], b[2]] as DecisionRecord[];
    expect(verifyChain(log, hashOf)).toMatchObject({ ok: false, broken: { chain: 'a', seq: 3 } });
  });

  // A chain whose every record was deleted leaves only its head behind: that is a truncated
  // tail too, and must not verify.
  it('detects a chain whose head exists but whose records are all gone', () => {
    const a = build('a', 3);
    const b = build('b', 2);
    const heads = new Map([
      ['a', { seq: 3, hash: a[2]?.hash ?? '' }],
      ['b', { seq: 2, hash: b[1]?.hash ?? '' }],
    ]);
    expect(verifyChain(b, hashOf, heads)).toMatchObject({ ok: false, broken: { chain: 'a' } });
  });
});
