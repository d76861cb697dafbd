// Shared decisions in a sweep: a memoized decider must answer exactly as Cedar does, for any facts.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PolicyFacts, memoizeDecider } from '../../src/domain/policy-facts.ts';
import { compilePolicySet, contextReads } from '../../src/policy/cedar-policy-set.ts';

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

const facts: fc.Arbitrary<PolicyFacts> = fc.record({
  agent: fc.record({
    id: fc.constantFrom('a1', 'a2'),
    groups: fc.subarray(['writers', 'exporters', 'deployers']),
    attributes: fc.constantFrom<Record<string, string>>({}, { team: 'red' }),
  }),
  task: fc.record({ id: fc.constantFrom('T-1', 'T-forbidden'), purpose: fc.constantFrom('summary', 'bulk export') }),
  datatypes: fc.subarray(['customer_record', 'secret']),
  nowSec: fc.constantFrom(1_700_000_000, 1_700_200_000, 1_700_400_000, 1_700_500_000),
  ip: fc.option(fc.constantFrom('10.0.0.7', '10.9.1.1'), { nil: undefined }),
  risk: fc.constantFrom(0, 50, 85),
  usage: fc.record({
    calls_last_minute: fc.constantFrom(0, 700),
    denied_last_hour: fc.constantFrom(0, 60),
    used_actions: fc.option(fc.constant(new Set(['read'])), { nil: undefined }),
  }),
  approved: fc.boolean(),
  delegated: fc.boolean(),
  sender_constrained: fc.boolean(),
  signals: fc.subarray(['credential_compromised', 'ip_changed']),
});
const pairs = fc.array(
  fc.record({
    entry: fc.constant(0),
    action: fc.constantFrom('read', 'write', 'export', 'deploy', 'delete', 'update'),
    location: fc.constantFrom('https://crm.example.com', 'https://erp.example.com'),
  }),
  { minLength: 1, maxLength: 4 },
);

describe('memoizeDecider', () => {
  for (const [name, text] of [
    ['default policy set', defaultText],
    ['a set reading every context attribute', wideText],
  ] as const) {
    it(`answers exactly as Cedar for any facts (${name})`, () => {
      const compiled = compilePolicySet(text, schema, 1);
      if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
      const memo = memoizeDecider(compiled.set);
      // Many questions through one memo: shared answers must never leak across differing facts.
      fc.assert(
        fc.property(facts, pairs, (f, p) => {
          const strip = (ds: ReturnType<typeof compiled.set.decide>) => ds.map((d) => ({ pair: d.pair, effect: d.effect, reasons: [...d.reasons].sort() }));
          const direct = strip(compiled.set.decide(f, p));
          expect(strip(memo.decide(f, p))).toEqual(direct);
          // Asked again (now from the memo, as a sweep's later grants are): still Cedar's answer.
          expect(strip(memo.decide(f, p))).toEqual(direct);
        }),
        { numRuns: 400 },
      );
      expect(memo.hits).toBeGreaterThan(0);
    });
  }
});

describe('contextReads', () => {
  it('finds attribute reads and ignores comments', () => {
    expect([...contextReads('// context.ip\npermit (principal, action, resource) when { context.risk < 5 };')]).toEqual(['risk']);
    expect([...contextReads('permit (principal, action, resource) when { context has ip && context["task"].id == "x" };')].sort()).toEqual(['ip', 'task']);
  });
  it('counts a whole-context use as reading everything', () => {
    expect(contextReads('permit (principal, action, resource) when { context == {} };').size).toBe(10);
  });
});
