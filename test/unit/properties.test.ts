// Properties of the pure core, checked over generated inputs: narrowing, lifetimes, canonical JSON, the hash chain.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  type DecisionRecord,
  verifyChain,
} from '../../src/domain/decision-record.ts';
import {
  type AgentTask,
  AgentTaskSchema,
  isWithin,
  MAX_GRANT_TTL_SEC,
  narrowEntries,
  pairsOf,
} from '../../src/domain/intent.ts';
import {
  clampAccessTtl,
  clampGrantTtl,
  MAX_ACCESS_TTL_SEC,
  type TtlLimits,
} from '../../src/domain/ttl.ts';

const hashOf = (canonical: string) => createHash('sha256').update(canonical).digest('base64url');

// Small alphabets so entries share actions and locations, which is where narrowing gets hard.
const action = fc.constantFrom('read', 'search', 'list', 'write', 'export', 'deploy');
const location = fc.constantFrom(
  'https://crm.example.com',
  'https://mail.example.com',
  'https://docs.example.com/api',
  'https://a.example',
);
const entry: fc.Arbitrary<AgentTask> = fc.record(
  {
    type: fc.constant('agent_task' as const),
    task_id: fc.constant('T-1'),
    actions: fc.array(action, { minLength: 1, maxLength: 5 }),
    locations: fc.array(location, { minLength: 1, maxLength: 4 }),
    datatypes: fc.array(fc.constantFrom('customer_record', 'email'), { maxLength: 2 }),
    ttl: fc.integer({ min: 1, max: MAX_GRANT_TTL_SEC }),
  },
  { requiredKeys: ['type', 'task_id', 'actions', 'locations'] },
);
const entries = fc.array(entry, { minLength: 1, maxLength: 4 });
/** Entries and a random subset of their pairs, as policy would permit them. */
const entriesAndPermitted = entries.chain((es) => {
  const pairs = pairsOf(es);
  return fc.tuple(fc.constant(es), fc.subarray(pairs));
});

const flat = (pairs: ReadonlyArray<{ action: string; location: string }>) =>
  new Set(pairs.map((p) => `${p.action}\u0000${p.location}`));

describe('narrowEntries', () => {
  it('grants exactly the permitted pairs: within what was asked and what policy allowed', () => {
    fc.assert(
      fc.property(entriesAndPermitted, ([requested, permitted]) => {
        const granted = narrowEntries(requested, permitted);
        expect(flat(pairsOf(granted))).toEqual(flat(permitted));
        for (const p of pairsOf(granted)) {
          expect(flat(pairsOf(requested)).has(`${p.action}\u0000${p.location}`)).toBe(true);
        }
      }),
    );
  });

  it('grants only the intersection when policy answers with pairs that were not asked', () => {
    const stray = fc.record({ entry: fc.integer({ min: 0, max: 5 }), action, location });
    fc.assert(
      fc.property(entries, fc.array(stray, { maxLength: 12 }), (requested, permitted) => {
        const asked = new Set(
          pairsOf(requested).map((p) => `${p.entry}\u0000${p.action}\u0000${p.location}`),
        );
        const expected = permitted.filter((p) =>
          asked.has(`${p.entry}\u0000${p.action}\u0000${p.location}`),
        );
        expect(flat(pairsOf(narrowEntries(requested, permitted)))).toEqual(flat(expected));
      }),
    );
  });

  it('is always within the request', () => {
    fc.assert(
      fc.property(entriesAndPermitted, ([requested, permitted]) => {
        expect(isWithin(narrowEntries(requested, permitted), requested)).toBe(true);
      }),
    );
  });

  it('yields entries that are themselves valid agent_task entries', () => {
    fc.assert(
      fc.property(entriesAndPermitted, ([requested, permitted]) => {
        for (const e of narrowEntries(requested, permitted))
          expect(AgentTaskSchema.safeParse(e).success).toBe(true);
      }),
    );
  });

  it('keeps each pair with the entry it was asked in, so its datatypes and ttl travel with it', () => {
    fc.assert(
      fc.property(entriesAndPermitted, ([requested, permitted]) => {
        const granted = narrowEntries(requested, permitted);
        for (const g of granted) {
          const source = requested.find(
            (r, i) =>
              r.datatypes === g.datatypes &&
              r.ttl === g.ttl &&
              pairsOf([g]).every((p) =>
                permitted.some(
                  (q) => q.entry === i && q.action === p.action && q.location === p.location,
                ),
              ),
          );
          expect(source).toBeDefined();
        }
      }),
    );
  });

  it('is the identity when everything is permitted', () => {
    fc.assert(
      fc.property(entries, (requested) => {
        expect(flat(pairsOf(narrowEntries(requested, pairsOf(requested))))).toEqual(
          flat(pairsOf(requested)),
        );
      }),
    );
  });
});

describe('lifetimes', () => {
  const limits: fc.Arbitrary<TtlLimits> = fc.record(
    {
      defaultGrantTtlSec: fc.integer({ min: 1, max: 200_000 }),
      maxGrantTtlSec: fc.integer({ min: 1, max: 200_000 }),
      accessTtlSec: fc.integer({ min: 1, max: 5_000 }),
      clientMaxGrantTtlSec: fc.integer({ min: 1, max: 200_000 }),
      clientMaxTokenTtlSec: fc.integer({ min: 1, max: 5_000 }),
    },
    { requiredKeys: ['defaultGrantTtlSec', 'maxGrantTtlSec', 'accessTtlSec'] },
  );
  const seconds = fc.oneof(
    fc.integer({ min: -1_000, max: 1_000_000 }),
    fc.double({ min: -10, max: 1e6, noNaN: true }),
  );

  it('a grant ttl is a whole number of seconds, at least 1 and within every cap', () => {
    fc.assert(
      fc.property(fc.option(seconds, { nil: undefined }), limits, (requested, l) => {
        const ttl = clampGrantTtl(requested, l);
        expect(Number.isInteger(ttl)).toBe(true);
        expect(ttl).toBeGreaterThanOrEqual(1);
        expect(ttl).toBeLessThanOrEqual(MAX_GRANT_TTL_SEC);
        expect(ttl).toBeLessThanOrEqual(l.maxGrantTtlSec);
        expect(ttl).toBeLessThanOrEqual(l.clientMaxGrantTtlSec ?? Infinity);
        expect(ttl).toBeLessThanOrEqual(Math.max(1, requested ?? l.defaultGrantTtlSec));
      }),
    );
  });

  it('an access ttl is a whole number of seconds, at least 0, within every cap and the grant', () => {
    fc.assert(
      fc.property(seconds, limits, (remaining, l) => {
        const ttl = clampAccessTtl(remaining, l);
        expect(Number.isInteger(ttl)).toBe(true);
        expect(ttl).toBeGreaterThanOrEqual(0);
        expect(ttl).toBeLessThanOrEqual(MAX_ACCESS_TTL_SEC);
        expect(ttl).toBeLessThanOrEqual(l.accessTtlSec);
        expect(ttl).toBeLessThanOrEqual(l.clientMaxTokenTtlSec ?? Infinity);
        expect(ttl).toBeLessThanOrEqual(Math.max(0, remaining));
      }),
    );
  });
});

describe('canonicalJson', () => {
  it('is stable through a JSON round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const once = canonicalJson(value);
        expect(canonicalJson(JSON.parse(once))).toBe(once);
      }),
    );
  });

  it('parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('does not depend on key insertion order', () => {
    const reversed = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reversed);
      if (v === null || typeof v !== 'object') return v;
      return Object.fromEntries(
        Object.entries(v)
          .reverse()
          .map(([k, x]) => [k, reversed(x)]),
      );
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(reversed(value))).toBe(canonicalJson(value));
      }),
    );
  });
});

describe('verifyChain', () => {
  const recordBody = fc.record({
    kind: fc.constantFrom('mint', 'refresh', 'evaluation', 'revocation', 'approval' as const),
    outcome: fc.constantFrom('permit', 'narrow', 'deny', 'approval'),
    reasons: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
    client_id: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
    grant_id: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
    inputs: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), {
      maxKeys: 3,
    }),
  });
  /** An honest log: records of up to three chains, interleaved in write order. */
  const honestLog = fc
    .array(fc.tuple(fc.constantFrom('w1', 'w2', 'w3'), recordBody), { minLength: 1, maxLength: 25 })
    .map((writes) => {
      const state = new Map<string, { seq: number; prev: string }>();
      return writes.map(([chain, body], i): DecisionRecord => {
        const s = state.get(chain) ?? { seq: 0, prev: '' };
        const unsigned = {
          ...body,
          id: `r${i}`,
          at_ms: 1_704_276_000_000 + i,
          chain,
          seq: s.seq + 1,
          prev: s.prev,
        };
        const hash = hashOf(canonicalJson(unsigned));
        state.set(chain, { seq: unsigned.seq, prev: hash });
        return { ...unsigned, hash };
      });
    });
  const headsOf = (log: readonly DecisionRecord[]) => {
    const heads = new Map<string, { seq: number; hash: string }>();
    for (const r of log) heads.set(r.chain, { seq: r.seq, hash: r.hash });
    return heads;
  };

  it('accepts every honestly built set of chains', () => {
    fc.assert(
      fc.property(honestLog, (log) => {
        expect(verifyChain(log, hashOf, headsOf(log))).toEqual({ ok: true, records: log.length });
      }),
    );
  });

  type Field =
    | 'outcome'
    | 'reasons'
    | 'inputs'
    | 'client_id'
    | 'kind'
    | 'at_ms'
    | 'seq'
    | 'prev'
    | 'chain'
    | 'id'
    | 'hash';
  const mutate = (r: DecisionRecord, field: Field): DecisionRecord => {
    switch (field) {
      case 'outcome':
        return { ...r, outcome: `${r.outcome}!` };
      case 'reasons':
        return { ...r, reasons: [...r.reasons, 'forged'] };
      case 'inputs':
        return { ...r, inputs: { ...r.inputs, forged: true } };
      case 'client_id':
        return { ...r, client_id: `${r.client_id ?? ''}x` };
      case 'kind':
        return { ...r, kind: r.kind === 'mint' ? 'approval' : 'mint' };
      case 'at_ms':
        return { ...r, at_ms: r.at_ms + 1 };
      case 'seq':
        return { ...r, seq: r.seq + 1 };
      case 'prev':
        return { ...r, prev: `${r.prev}x` };
      case 'chain':
        return { ...r, chain: `${r.chain}x` };
      case 'id':
        return { ...r, id: `${r.id}x` };
      case 'hash':
        return { ...r, hash: `${r.hash.slice(1)}A` };
    }
  };

  it('rejects any single-field change of any record', () => {
    const fields: Field[] = [
      'outcome',
      'reasons',
      'inputs',
      'client_id',
      'kind',
      'at_ms',
      'seq',
      'prev',
      'chain',
      'id',
      'hash',
    ];
    fc.assert(
      fc.property(honestLog, fc.nat(), fc.constantFrom(...fields), (log, at, field) => {
        const index = at % log.length;
        const tampered = log.map((r, i) => (i === index ? mutate(r, field) : r));
        expect(verifyChain(tampered, hashOf, headsOf(log)).ok).toBe(false);
      }),
    );
  });
});
