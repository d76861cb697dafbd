// Shared decisions: a memoized decider must answer exactly as Cedar does, for any facts, while
// facts the policy cannot tell apart (a counter far below its threshold) share one answer.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PairDecision } from '../../src/domain/decision.ts';
import type { Pair } from '../../src/domain/intent.ts';
import {
  calendarOf,
  type PolicyDecider,
  type PolicyFacts,
  sameRank,
} from '../../src/domain/policy-facts.ts';
import { type CompiledPolicySet, compilePolicySet } from '../../src/policy/cedar-policy-set.ts';
import { factsKey, memoizeDecider } from '../../src/policy/memoize-decider.ts';

const schema = readFileSync('config/schema.cedarschema', 'utf8');
const defaultText = readFileSync('config/policies/default.cedar', 'utf8');
// A set that reads everything the model has, so every fact can matter.
const wideText = `${defaultText}
@id("task-bound") forbid (principal, action, resource) when { context.task.id == "T-forbidden" || context.task.purpose like "*export*" };
@id("ip-bound") forbid (principal, action, resource) when { context has ip && context.ip.isInRange(ip("10.9.0.0/16")) };
@id("datatype-bound") forbid (principal, action == Action::"write", resource) when { context.datatypes.contains("secret") };
@id("clock-bound") forbid (principal, action == Action::"delete", resource) when { context.now.unix > 1700300000 };
@id("delegation") forbid (principal, action == Action::"export", resource) when { context.delegated || context.sender_constrained };
@id("new-action") forbid (principal, action == Action::"update", resource) when { context.usage.new_action };`;
// Every comparison form: >=, ==, != and the literal on the left.
const comparisonsText = `
@id("all") permit (principal, action, resource);
@id("risk-eq") forbid (principal, action == Action::"write", resource) when { context.risk == 50 };
@id("risk-ne") forbid (principal, action == Action::"export", resource) when { context.risk != 5 && 100 <= context.risk };
@id("calls-left") forbid (principal, action == Action::"delete", resource) when { 300 < context.usage.calls_last_minute };
@id("denied-ge") forbid (principal, action == Action::"deploy", resource) when { context.usage.denied_last_hour >= 50 || 0 == context.usage.denied_last_hour };
@id("hour") forbid (principal, action == Action::"update", resource) unless { 9 <= context.now.hour && context.now.hour != 12 && context.now.weekday == 3 };
@id("clock") forbid (principal, action == Action::"read", resource) when { context.now.unix >= 1700300000 && context.now.unix <= 1700400000 };`;
// Arithmetic on a counter: no threshold on the value itself, so it must be keyed exactly.
const arithmeticText = `
@id("all") permit (principal, action, resource);
@id("double") forbid (principal, action, resource) when { context.usage.calls_last_minute * 2 > 600 };
@id("sum") forbid (principal, action == Action::"write", resource) when { context.usage.calls_last_minute + context.usage.denied_last_hour >= 350 };
@id("risk-neg") forbid (principal, action == Action::"export", resource) when { -context.risk < -50 || context.risk > 90 };`;
const signalsText = `
@id("all") permit (principal, action, resource);
@id("x") forbid (principal, action == Action::"write", resource) when { context.signals.contains("x") };
@id("any") forbid (principal, action == Action::"export", resource) when { context.signals.containsAny(["ip_changed", "y"]) };
@id("all-of") forbid (principal, action == Action::"delete", resource) when { context.signals.containsAll(["x", "y"]) };
@id("dt") forbid (principal, action == Action::"update", resource) when { context.datatypes.containsAny(["secret"]) && context.datatypes.contains("pii") };`;

const SETS = [
  ['the default set', defaultText],
  ['a set reading every context attribute', wideText],
  ['a set with every comparison form', comparisonsText],
  ['a set with arithmetic on counters', arithmeticText],
  ['a set testing set membership', signalsText],
] as const;

const ACTIONS = ['read', 'write', 'export', 'deploy', 'delete', 'update'];
// Sunday midnights (UTC) on both sides of the wide set's clock threshold.
const WEEKS = [1_699_747_200, 1_700_352_000];

/** Facts at 10:00 UTC on a Wednesday with nothing going on. */
const QUIET_FACTS: PolicyFacts = {
  agent: { id: 'a1', groups: [], attributes: {} },
  task: { id: 'T-1', purpose: '' },
  datatypes: [],
  nowSec: 1_704_276_000,
  risk: 0,
  usage: { calls_last_minute: 0, denied_last_hour: 0 },
  approved: false,
  delegated: false,
  sender_constrained: false,
  signals: [],
};

function compileOrThrow(text: string, cacheEntries?: number): CompiledPolicySet {
  const compiled = compilePolicySet(
    text,
    schema,
    1,
    cacheEntries === undefined ? {} : { cacheEntries },
  );
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
  return compiled.set;
}

/** L-1, L and L+1 for every threshold the set has on `leaf`, with `extra` values. */
function around(
  set: PolicyDecider,
  leaf: 'risk' | 'usage.calls_last_minute' | 'usage.denied_last_hour' | 'now.unix',
  extra: number[],
): number[] {
  const read = set.reads.leaves.get(leaf);
  const literals = read?.kind === 'threshold' ? read.literals : [];
  return [...new Set([...extra, ...literals.flatMap((l) => [l - 1, l, l + 1])])];
}

/** Facts landing on each side of every threshold of `set`, and on every hour of two weeks. */
function factsFor(set: PolicyDecider): fc.Arbitrary<PolicyFacts> {
  const inWeek = fc
    .tuple(
      fc.constantFrom(...WEEKS),
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 0, max: 23 }),
      fc.constantFrom(0, 1, 1799, 3599),
    )
    .map(([week, day, hour, sec]) => week + day * 86_400 + hour * 3_600 + sec);
  const nearClock = fc.constantFrom(...around(set, 'now.unix', [1_700_000_000]));
  return fc.record({
    agent: fc.record({
      id: fc.constantFrom('a1', 'a2'),
      groups: fc.subarray(['writers', 'exporters', 'deployers']),
      attributes: fc.constantFrom<Record<string, string>>({}, { team: 'red' }),
    }),
    task: fc.record({
      id: fc.constantFrom('T-1', 'T-forbidden'),
      purpose: fc.constantFrom('summary', 'bulk export'),
    }),
    datatypes: fc.subarray(['customer_record', 'secret', 'pii']),
    nowSec: fc.oneof(inWeek, nearClock),
    ip: fc.option(fc.constantFrom('10.0.0.7', '10.9.1.1'), { nil: undefined }),
    risk: fc.constantFrom(...around(set, 'risk', [0, 4, 5, 6, 49, 50, 51, 90, 91, 99, 100, 101])),
    usage: fc.record({
      calls_last_minute: fc.constantFrom(
        ...around(
          set,
          'usage.calls_last_minute',
          [0, 1, 299, 300, 301, 349, 350, 599, 600, 601, 700],
        ),
      ),
      denied_last_hour: fc.constantFrom(
        ...around(set, 'usage.denied_last_hour', [0, 1, 49, 50, 51, 60]),
      ),
      used_actions: fc.option(fc.constantFrom(new Set(['read']), new Set(['read', 'update'])), {
        nil: undefined,
      }),
    }),
    approved: fc.boolean(),
    delegated: fc.boolean(),
    sender_constrained: fc.boolean(),
    signals: fc.subarray(['credential_compromised', 'ip_changed', 'x', 'y']),
  });
}

const pairs = fc.array(
  fc.record({
    entry: fc.constant(0),
    action: fc.constantFrom(...ACTIONS),
    location: fc.constantFrom('https://crm.example.com', 'https://erp.example.com'),
  }),
  { minLength: 1, maxLength: 4 },
);

const strip = (ds: PairDecision[]) =>
  ds.map((d) => ({
    pair: d.pair,
    effect: d.effect,
    reasons: [...d.reasons].sort(),
    errors: d.errors,
  }));

/** A decider that counts the pairs it really decides. */
function counting(decider: PolicyDecider): PolicyDecider & { decided: number } {
  const counter = {
    version: decider.version,
    reads: decider.reads,
    decided: 0,
    decide(facts: PolicyFacts, ps: readonly Pair[]) {
      counter.decided += ps.length;
      return decider.decide(facts, ps);
    },
  };
  return counter;
}

describe('memoizeDecider', () => {
  for (const [name, text] of SETS) {
    it(`answers exactly as Cedar for facts on every side of every threshold (${name})`, () => {
      const cedar = compileOrThrow(text, 0);
      const shared = compileOrThrow(text);
      const memo = memoizeDecider(cedar);
      // Many questions through one memo: shared answers must never leak across differing facts.
      fc.assert(
        fc.property(factsFor(cedar), pairs, (f, p) => {
          const direct = strip(cedar.decide(f, p));
          expect(strip(memo.decide(f, p))).toEqual(direct);
          // Asked again (now from the memo, as a sweep's later grants are): still Cedar's answer.
          expect(strip(memo.decide(f, p))).toEqual(direct);
          // The compiled set's own shared cache (action-time evaluation) too.
          expect(strip(shared.decide(f, p))).toEqual(direct);
        }),
        { numRuns: 1000 },
      );
      expect(memo.hits).toBeGreaterThan(0);
    });
  }

  it('shares one decision per pair while the default set cannot tell the facts apart', () => {
    const cedar = counting(compileOrThrow(defaultText, 0));
    const memo = memoizeDecider(cedar, { maxEntries: 10_000 });
    const wed10 = 1_704_276_000;
    const ps: Pair[] = ACTIONS.map((action) => ({
      entry: 0,
      action,
      location: 'https://crm.example.com',
    }));
    const base: PolicyFacts = {
      agent: { id: 'a1', groups: ['writers', 'deployers'], attributes: {} },
      task: { id: 'T-1', purpose: 'summary' },
      datatypes: [],
      nowSec: wed10,
      risk: 10,
      usage: { calls_last_minute: 0, denied_last_hour: 0 },
      approved: false,
      delegated: false,
      sender_constrained: false,
      signals: [],
    };
    // An evaluation call each second for an hour: counters grow, the clock moves, risk wanders below 80, denials stay at most 50.
    for (let i = 0; i < 3_600; i += 1) {
      const facts = {
        ...base,
        nowSec: wed10 + i,
        risk: i % 80,
        usage: { calls_last_minute: i % 600, denied_last_hour: i % 50 },
      };
      memo.decide(facts, ps);
    }
    expect(cedar.decided).toBe(ACTIONS.length);
    expect(memo.hits).toBe(3_600 * ACTIONS.length - ACTIONS.length);
    // Crossing a threshold is a new question.
    memo.decide({ ...base, usage: { calls_last_minute: 601, denied_last_hour: 0 } }, ps);
    memo.decide({ ...base, nowSec: wed10 + 8 * 3_600 }, ps);
    expect(cedar.decided).toBe(3 * ACTIONS.length);
  });

  it('empties per second only when the policy reads the seconds exactly', () => {
    const exact = counting(
      compileOrThrow(
        '@id("p") permit (principal, action, resource) when { context.now.unix + 0 > 5 };',
        0,
      ),
    );
    const memo = memoizeDecider(exact, { maxEntries: 100 });
    const f: PolicyFacts = { ...QUIET_FACTS, nowSec: 1_700_000_000 };
    const p: Pair[] = [{ entry: 0, action: 'read', location: 'r' }];
    memo.decide(f, p);
    memo.decide(f, p);
    memo.decide({ ...f, nowSec: f.nowSec + 1 }, p);
    expect(exact.decided).toBe(2);
    expect(memo.hits).toBe(1);
  });

  it('keys usage.new_action per pair, from the actions used before', () => {
    const cedar = counting(
      compileOrThrow(
        '@id("all") permit (principal, action, resource);\n@id("new") forbid (principal, action, resource) when { context.usage.new_action };',
        0,
      ),
    );
    const memo = memoizeDecider(cedar);
    const f = (used: string[]): PolicyFacts => ({
      agent: { id: 'a1', groups: [], attributes: {} },
      task: { id: 'T-1', purpose: '' },
      datatypes: [],
      nowSec: 1_700_000_000,
      risk: 0,
      usage: { calls_last_minute: 0, denied_last_hour: 0, used_actions: new Set(used) },
      approved: false,
      delegated: false,
      sender_constrained: false,
      signals: [],
    });
    const read: Pair[] = [{ entry: 0, action: 'read', location: 'r' }];
    expect(memo.decide(f(['read']), read)[0]?.effect).toBe('permit');
    // Another history in which read is not new: the same question.
    expect(memo.decide(f(['read', 'write']), read)[0]?.effect).toBe('permit');
    expect(memo.decide(f(['write']), read)[0]?.effect).toBe('deny');
    expect(cedar.decided).toBe(2);
  });
});

describe('factsKey', () => {
  const set = compileOrThrow(defaultText, 0);
  const f = QUIET_FACTS;
  const key = (over: Partial<PolicyFacts>) => factsKey({ ...f, ...over }, set.reads);

  it('tells apart only the sides of each threshold', () => {
    const calls = (n: number) => key({ usage: { calls_last_minute: n, denied_last_hour: 0 } });
    expect(calls(599)).toBe(calls(0));
    expect(calls(601)).not.toBe(calls(600));
    expect(calls(10_000)).toBe(calls(601));
    expect(key({ risk: 79 })).toBe(key({ risk: -5 }));
    expect(key({ risk: 80 })).not.toBe(key({ risk: 79 }));
    expect(key({ risk: 81 })).not.toBe(key({ risk: 80 }));
    // 10:00 and 17:59 on a Wednesday are both inside the change window.
    expect(key({ nowSec: f.nowSec + 7 * 3_600 + 3_540 })).toBe(key({}));
    expect(calendarOf(f.nowSec + 8 * 3_600).hour).toBe(18);
    expect(key({ nowSec: f.nowSec + 8 * 3_600 })).not.toBe(key({}));
  });

  it('holds only the strings the policy looks for in a set', () => {
    expect(key({ signals: ['ip_changed', 'new_device'] })).toBe(key({ signals: [] }));
    expect(key({ signals: ['credential_compromised'] })).not.toBe(key({ signals: [] }));
    expect(key({ datatypes: ['secret'] })).toBe(key({}));
  });

  it('keeps a number Cedar cannot take apart, read or not', () => {
    // The default set reads calls_last_minute and denied_last_hour by threshold; a fraction fails the call.
    expect(key({ risk: 10.5 })).not.toBe(key({ risk: 10 }));
    const onlyCalls = compileOrThrow(
      '@id("p") permit (principal, action, resource) when { context.usage.calls_last_minute < 10 };',
      0,
    );
    const k = (denied: number) =>
      factsKey(
        { ...f, usage: { calls_last_minute: 0, denied_last_hour: denied } },
        onlyCalls.reads,
      );
    expect(k(1)).toBe(k(0));
    expect(k(0.5)).not.toBe(k(0));
    const p: Pair[] = [{ entry: 0, action: 'read', location: 'r' }];
    expect(
      onlyCalls.decide({ ...f, usage: { calls_last_minute: 0, denied_last_hour: 0.5 } }, p)[0]
        ?.effect,
    ).toBe('deny');
    expect(onlyCalls.decide(f, p)[0]?.effect).toBe('permit');
  });
});

describe('sameRank', () => {
  const base = QUIET_FACTS;
  const sets = {
    default: compileOrThrow(defaultText),
    mixed: compileOrThrow(
      '@id("p") permit (principal, action, resource) when { context.usage.calls_last_minute < 10 || context.usage.calls_last_minute == 20 || 40 <= context.usage.calls_last_minute };',
    ),
    exact: compileOrThrow(
      '@id("p") permit (principal, action, resource) when { context.usage.calls_last_minute * 2 > 30 };',
    ),
    unread: compileOrThrow('@id("p") permit (principal, action, resource);'),
  };
  const callsKey = (set: PolicyDecider, n: number) =>
    factsKey({ ...base, usage: { calls_last_minute: n, denied_last_hour: 0 } }, set.reads);

  it('is the widest run of counts the policy cannot tell apart from the value, points apart', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(sets)),
        fc.integer({ min: 0, max: 700 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 2 }),
        (set, value, points) => {
          const { min, max } = sameRank(set.reads, 'usage.calls_last_minute', value, points);
          expect(min === undefined || min <= value).toBe(true);
          expect(max === undefined || max >= value).toBe(true);
          const lo = Math.max(min ?? 0, 0);
          const hi = Math.min(max ?? 800, 800);
          for (let y = lo; y <= hi; y++) {
            expect(callsKey(set, y)).toBe(callsKey(set, value));
            expect(points.includes(y) && y !== value).toBe(false);
          }
          // One step outside is told apart: by the policy, or as a point.
          for (const y of [
            min === undefined ? undefined : min - 1,
            max === undefined ? undefined : max + 1,
          ]) {
            if (y === undefined || y < 0) continue;
            expect(
              callsKey(set, y) !== callsKey(set, value) ||
                points.includes(y) ||
                points.includes(value),
            ).toBe(true);
          }
        },
      ),
    );
  });

  it('names the ranges of the default set', () => {
    expect(sameRank(sets.default.reads, 'usage.calls_last_minute', 5)).toEqual({ max: 599 });
    expect(sameRank(sets.default.reads, 'usage.calls_last_minute', 600)).toEqual({
      min: 600,
      max: 600,
    });
    expect(sameRank(sets.default.reads, 'usage.calls_last_minute', 601)).toEqual({ min: 601 });
    expect(sameRank(sets.default.reads, 'usage.calls_last_minute', 5, [8])).toEqual({ max: 7 });
    expect(sameRank(sets.unread.reads, 'usage.calls_last_minute', 5)).toEqual({});
    expect(sameRank(sets.exact.reads, 'usage.calls_last_minute', 5)).toEqual({ min: 5, max: 5 });
  });
});
