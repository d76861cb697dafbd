// The reads analysis: how each policy uses each context leaf, from Cedar's JSON form (EST).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, CONTEXT_LEAVES, type LeafRead } from '../../src/domain/policy-facts.ts';
import { contextReads } from '../../src/policy/cedar-policy-set.ts';
import { policyReads } from '../../src/policy/policy-reads.ts';

const when = (condition: string) => `permit (principal, action, resource) when { ${condition} };`;
const leavesOf = (text: string): Record<string, LeafRead> =>
  Object.fromEntries(contextReads(text).leaves);
const EXACT = { kind: 'exact' };

describe('policyReads', () => {
  it('reads the default set by thresholds and membership, approval exactly', () => {
    const reads = contextReads(readFileSync('config/policies/default.cedar', 'utf8'));
    expect(Object.fromEntries(reads.leaves)).toEqual({
      'now.hour': { kind: 'threshold', literals: [6, 18] },
      'now.weekday': { kind: 'threshold', literals: [1, 5] },
      risk: { kind: 'threshold', literals: [80] },
      'usage.calls_last_minute': { kind: 'threshold', literals: [600] },
      'usage.denied_last_hour': { kind: 'threshold', literals: [50] },
      signals: { kind: 'membership', literals: ['credential_compromised'] },
      approved: EXACT,
    });
    expect([...reads.attributes].sort()).toEqual(['approved', 'now', 'risk', 'signals', 'usage']);
  });

  it('takes every comparison with an integer literal, on either side, as a threshold', () => {
    expect(
      leavesOf(
        when(
          '600 < context.usage.calls_last_minute && context.risk != 5 && context.risk == 3 && -2 >= context.risk',
        ),
      ),
    ).toEqual({
      'usage.calls_last_minute': { kind: 'threshold', literals: [600] },
      risk: { kind: 'threshold', literals: [-2, 3, 5] },
    });
    expect(leavesOf(when('context.now.unix <= 1700000000'))).toEqual({
      'now.unix': { kind: 'threshold', literals: [1_700_000_000] },
    });
  });

  it('reads a value exactly when anything but a literal comparison uses it', () => {
    expect(leavesOf(when('context.usage.calls_last_minute + 1 > 600'))).toEqual({
      'usage.calls_last_minute': EXACT,
    });
    // One exact use anywhere in the set outweighs thresholds elsewhere.
    expect(leavesOf(`${when('context.risk > 5')}\n${when('-context.risk < 0')}`)).toEqual({
      risk: EXACT,
    });
    expect(leavesOf(when('context.risk == context.usage.denied_last_hour'))).toEqual({
      risk: EXACT,
      'usage.denied_last_hour': EXACT,
    });
    expect(leavesOf(when('[1, 2].contains(context.risk)'))).toEqual({ risk: EXACT });
    // A Long beyond 2^53 is rounded in the JSON form: not a literal to compare with.
    expect(leavesOf(when('context.risk < 9223372036854775807'))).toEqual({ risk: EXACT });
    expect(leavesOf(when('context.task.purpose like "*x*" && context["task"].id == "T"'))).toEqual({
      'task.purpose': EXACT,
      'task.id': EXACT,
    });
    expect(leavesOf(when('context.approved'))).toEqual({ approved: EXACT });
  });

  it('reads a set by membership only while it is asked for string literals', () => {
    expect(
      leavesOf(
        when(
          'context.signals.contains("x") || context.signals.containsAny(["b", "a"]) || context.datatypes.containsAll(["s"])',
        ),
      ),
    ).toEqual({
      signals: { kind: 'membership', literals: ['a', 'b', 'x'] },
      datatypes: { kind: 'membership', literals: ['s'] },
    });
    expect(
      leavesOf(`${when('context.signals.contains("x")')}\n${when('context.signals.isEmpty()')}`),
    ).toEqual({ signals: EXACT });
    expect(leavesOf(when('context.signals.contains(context.task.id)'))).toEqual({
      signals: EXACT,
      'task.id': EXACT,
    });
    expect(leavesOf(when('context.signals == ["x"]'))).toEqual({ signals: EXACT });
  });

  it('reads presence exactly on `has`, and every leaf of a record used whole', () => {
    expect(leavesOf(when('context has ip && context.ip.isInRange(ip("10.0.0.0/8"))'))).toEqual({
      ip: EXACT,
    });
    expect(leavesOf(when('context.usage has new_action'))).toEqual({ 'usage.new_action': EXACT });
    expect(leavesOf(when('context.now == {unix: 1, hour: 2, weekday: 3}'))).toEqual({
      'now.unix': EXACT,
      'now.hour': EXACT,
      'now.weekday': EXACT,
    });
  });

  it('reads everything exactly when the whole context is used', () => {
    const reads = contextReads(when('context == {}'));
    expect(reads.attributes.size).toBe(CONTEXT_KEYS.length);
    expect([...reads.leaves.keys()]).toEqual([...CONTEXT_LEAVES]);
    expect([...reads.leaves.values()].every((r) => r.kind === 'exact')).toBe(true);
  });

  it('ignores comments, scopes and policies without conditions', () => {
    const reads = contextReads(
      `// context.ip\npermit (principal in Group::"context", action, resource);\n${when('context.risk < 5')}`,
    );
    expect([...reads.attributes]).toEqual(['risk']);
    expect(contextReads('').leaves.size).toBe(0);
  });

  it('does not mistake a record literal for an operator', () => {
    // {"Value": context.risk}: a record whose key is the EST's literal marker.
    expect(leavesOf(when('{"Value": context.risk, "<": context.approved}.Value > 5'))).toEqual({
      risk: EXACT,
      approved: EXACT,
    });
  });

  it('reads everything from JSON it does not recognise', () => {
    const all = policyReads([{ effect: 'permit', body: { Var: 'context' } }]);
    expect(all.leaves.size).toBe(CONTEXT_LEAVES.length);
    expect(contextReads('permit (principal, action, resource) when {').attributes.size).toBe(
      CONTEXT_KEYS.length,
    );
  });
});
