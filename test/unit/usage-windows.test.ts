// Trailing usage windows and `usage.new_action` facts: pure arithmetic with fixed clock values.
import { describe, expect, it } from 'vitest';
import type { PolicyFacts } from '../../src/domain/policy-facts.ts';
import {
  CALLS_WINDOW,
  DENIED_WINDOW,
  newActionOf,
  windowAt,
  windowCount,
  windowTtlSec,
} from '../../src/domain/policy-facts.ts';
import { compilePolicySet } from '../../src/policy/cedar-policy-set.ts';
import { pairKey } from '../../src/policy/memoize-decider.ts';
import { type GrantSnapshot, predictedCounts } from '../../src/services/grant-snapshots.ts';
import { historyUsage, usageInputs } from '../../src/services/policy-facts-of.ts';

/** An hour boundary (also a minute boundary), epoch s. */
const H = 1_800_000_000 - (1_800_000_000 % 3600);

/** Events (epoch s) counted as the usage store counts them: one per bucket hit, summed at `nowSec`. */
function countAt(window: typeof CALLS_WINDOW, events: readonly number[], nowSec: number): number {
  const buckets: Record<string, string> = {};
  for (const t of events) {
    const { bucket } = windowAt(window, t);
    buckets[bucket] = String(Number(buckets[bucket] ?? 0) + 1);
  }
  return windowCount(buckets, windowAt(window, nowSec).oldest);
}

describe('calls_last_minute window', () => {
  it('counts a burst across a minute boundary together', () => {
    // N calls at :59 and N at :00 of the next minute.
    const events = [...Array(5).fill(H - 1), ...Array(5).fill(H)];
    expect(countAt(CALLS_WINDOW, events, H)).toBe(10);
  });

  it('counts a call for at least 60 s and less than 61 s', () => {
    expect(countAt(CALLS_WINDOW, [H], H + 59)).toBe(1);
    expect(countAt(CALLS_WINDOW, [H], H + 60)).toBe(1);
    expect(countAt(CALLS_WINDOW, [H], H + 61)).toBe(0);
  });

  it('never counts fewer than the calls of the trailing 60 s', () => {
    for (let gap = 0; gap <= 60; gap++)
      expect(countAt(CALLS_WINDOW, [H, H + gap], H + gap)).toBe(2);
  });

  it('counts buckets ahead of now (a process whose clock runs ahead), and ignores older ones', () => {
    expect(
      windowCount({ [H + 2]: '3', [H]: '1', [H - 61]: '7' }, windowAt(CALLS_WINDOW, H).oldest),
    ).toBe(4);
  });
});

describe('denied_last_hour window', () => {
  it('counts denials across an hour boundary together, each for at least 3600 s and less than 3660 s', () => {
    expect(countAt(DENIED_WINDOW, [H - 1, H - 1, H, H], H)).toBe(4);
    expect(countAt(DENIED_WINDOW, [H - 1], H - 1 + 3599)).toBe(1);
    expect(countAt(DENIED_WINDOW, [H - 1], H + 3600)).toBe(0);
    expect(countAt(DENIED_WINDOW, [H], H + 3659)).toBe(1);
    expect(countAt(DENIED_WINDOW, [H], H + 3660)).toBe(0);
  });

  it('keeps buckets as long as they can count', () => {
    expect(windowTtlSec(CALLS_WINDOW)).toBeGreaterThanOrEqual(61);
    expect(windowTtlSec(DENIED_WINDOW)).toBeGreaterThanOrEqual(3660);
  });
});

describe('predictedCounts', () => {
  const snapshot = (over: Partial<GrantSnapshot>): GrantSnapshot => ({
    clientId: 'a',
    taskId: 'T',
    expiresAt: H + 3600,
    policyVersion: 1,
    digest: 'x',
    context: {
      risk: 0,
      signals: [],
      approved: false,
      delegated: false,
      sender_constrained: false,
      groups: [],
    },
    callsAtSec: H,
    calls: 7,
    deniedAtSec: H,
    denied: 3,
    usedActions: new Set(['read']),
    ...over,
  });

  it('carries counts across a minute boundary, and drops them once a whole window has passed', () => {
    expect(predictedCounts(snapshot({}), H + 1)).toEqual({ calls: 8, denied: 3 });
    expect(predictedCounts(snapshot({}), H + 60)).toEqual({ calls: 8, denied: 3 });
    expect(predictedCounts(snapshot({}), H + 61)).toEqual({ calls: 1, denied: 3 });
    expect(predictedCounts(snapshot({}), H + 3660)).toEqual({ calls: 1, denied: 0 });
  });
});

describe('usage.new_action facts', () => {
  const facts = (used: ReadonlySet<string> | undefined): PolicyFacts => ({
    agent: { id: 'a1', groups: [], attributes: {} },
    task: { id: 'T-1', purpose: '' },
    datatypes: [],
    nowSec: H,
    risk: 0,
    usage: historyUsage(used),
    approved: false,
    delegated: false,
    sender_constrained: false,
    signals: [],
  });
  const set = (() => {
    const compiled = compilePolicySet(
      '@id("all") permit (principal, action, resource);\n@id("new") forbid (principal, action, resource) when { context.usage.new_action };',
      'entity Group; entity Agent in [Group]; entity Resource; type Usage = { calls_last_minute: Long, denied_last_hour: Long, new_action: Bool }; action "read", "write" appliesTo { principal: Agent, resource: Resource, context: { usage: Usage } };',
      1,
      { cacheEntries: 0 },
    );
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
    return compiled.set;
  })();
  const read = { entry: 0, action: 'read', location: 'r' };

  it('is unknown without a history, never false', () => {
    expect(newActionOf(historyUsage(undefined), 'read')).toBeUndefined();
    expect(newActionOf(historyUsage(new Set(['read'])), 'read')).toBe(false);
    expect(newActionOf(historyUsage(new Set()), 'read')).toBe(true);
  });

  it('a policy reading it denies a pair decided on an unread history (fail closed)', () => {
    expect(set.decide(facts(undefined), [read])[0]).toMatchObject({
      effect: 'deny',
      reasons: ['policy-error'],
    });
    expect(set.decide(facts(new Set(['read'])), [read])[0]).toMatchObject({ effect: 'permit' });
    expect(set.decide(facts(new Set()), [read])[0]).toMatchObject({
      effect: 'deny',
      reasons: ['new'],
    });
  });

  it('keys an unread history apart from a read one in the decision memo', () => {
    const keys = [undefined, new Set<string>(), new Set(['read'])].map((u) =>
      pairKey('k', facts(u), read, set.reads),
    );
    expect(new Set(keys).size).toBe(3);
  });

  it("is recorded as the intent's new actions", () => {
    const entries = [
      {
        type: 'agent_task' as const,
        task_id: 'T',
        purpose: '',
        actions: ['read', 'write'],
        locations: ['r'],
      },
    ];
    expect(usageInputs(historyUsage(new Set(['read'])), entries)).toEqual({
      calls_last_minute: 0,
      denied_last_hour: 0,
      new_actions: ['write'],
    });
    expect(usageInputs(historyUsage(undefined), entries)).toEqual({
      calls_last_minute: 0,
      denied_last_hour: 0,
    });
  });
});
