// Shared decisions: a decider that answers equal questions once, keyed by what a policy set can
// tell apart in the facts (see policy-reads.ts); the Cedar adapter wraps its decider in it.
import type { PairDecision } from '../domain/decision.ts';
import type { Pair } from '../domain/intent.ts';
import { LruMap } from '../domain/lru-map.ts';
import {
  CONTEXT_LEAVES,
  type ContextKey,
  type ContextLeaf,
  calendarOf,
  newActionOf,
  type PolicyDecider,
  type PolicyFacts,
  type PolicyReads,
} from '../domain/policy-facts.ts';

type Calendar = { hour: number; weekday: number };
const NO_CALENDAR: Calendar = { hour: Number.NaN, weekday: Number.NaN };

/** Each leaf's value in the facts (`usage.new_action` is per pair: see pairKey). */
const LEAF_VALUES: Record<
  Exclude<ContextLeaf, 'usage.new_action'>,
  (facts: PolicyFacts, calendar: Calendar) => unknown
> = {
  'now.unix': (f) => f.nowSec,
  'now.hour': (_, c) => c.hour,
  'now.weekday': (_, c) => c.weekday,
  ip: (f) => f.ip ?? null,
  'task.id': (f) => f.task.id,
  'task.purpose': (f) => f.task.purpose,
  datatypes: (f) => f.datatypes,
  risk: (f) => f.risk,
  'usage.calls_last_minute': (f) => f.usage.calls_last_minute,
  'usage.denied_last_hour': (f) => f.usage.denied_last_hour,
  approved: (f) => f.approved,
  delegated: (f) => f.delegated,
  sender_constrained: (f) => f.sender_constrained,
  signals: (f) => f.signals,
  workload: (f) => f.workload ?? null,
  on_behalf_of: (f) => f.on_behalf_of ?? null,
  tool: (f) => f.tool ?? null,
};
const NUMERIC_LEAVES: ReadonlySet<ContextLeaf> = new Set([
  'now.unix',
  'now.hour',
  'now.weekday',
  'risk',
  'usage.calls_last_minute',
  'usage.denied_last_hour',
]);

interface KeyPlan {
  readonly steps: ReadonlyArray<(facts: PolicyFacts, calendar: Calendar) => unknown>;
  readonly needsCalendar: boolean;
}
const plans = new WeakMap<PolicyReads, KeyPlan>();

/** The key steps for `reads`, worked out once per reads object. */
function planOf(reads: PolicyReads): KeyPlan {
  const known = plans.get(reads);
  if (known) return known;
  const steps: Array<(facts: PolicyFacts, calendar: Calendar) => unknown> = [];
  let needsCalendar = false;
  for (const leaf of CONTEXT_LEAVES) {
    if (leaf === 'usage.new_action') continue;
    const value = LEAF_VALUES[leaf];
    const read = reads.leaves.get(leaf);
    const sent = reads.attributes.has(leaf.split('.')[0] as ContextKey);
    if (read?.kind === 'threshold') steps.push((f, c) => rankOf(value(f, c), read.literals));
    else if (read?.kind === 'membership') steps.push((f, c) => heldOf(value(f, c), read.literals));
    else if (read?.kind === 'exact') steps.push((f, c) => exactOf(value(f, c)));
    // Unread, but sent inside a record the policy reads: a number Cedar cannot take (a fraction,
    // NaN) fails the whole call, so whether it is well-formed matters.
    else if (sent && NUMERIC_LEAVES.has(leaf)) steps.push((f, c) => wellFormedOf(value(f, c)));
    else continue;
    if (leaf === 'now.hour' || leaf === 'now.weekday') needsCalendar = true;
  }
  const plan = { steps, needsCalendar };
  plans.set(reads, plan);
  return plan;
}

/** Where `value` falls among ascending `literals`: 2 x (literals below it) + (1 if it equals one). */
function rankOf(value: unknown, literals: readonly number[]): unknown {
  if (!Number.isSafeInteger(value)) return exactOf(value);
  let rank = 0;
  for (const l of literals) {
    if (l < (value as number)) rank += 2;
    else if (l === value) rank += 1;
  }
  return rank;
}

/** Which of `literals` the set holds, one bit each. */
function heldOf(value: unknown, literals: readonly string[]): unknown {
  if (!Array.isArray(value)) return exactOf(value);
  let bits = '';
  for (const l of literals) bits += value.includes(l) ? '1' : '0';
  return bits;
}

/** The value itself: sets in order, and numbers JSON cannot tell apart (NaN, Infinity) as text. */
function exactOf(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : String(value);
  return Array.isArray(value) ? [...value].sort() : value;
}

function wellFormedOf(value: unknown): unknown {
  return Number.isSafeInteger(value) ? 0 : exactOf(value);
}

/**
 * The part of the facts a decision by a policy with `reads` can depend on, as a string: the agent
 * (id, groups, attributes) always; of the context, per leaf, only what the policy can tell apart
 * (the rank among its thresholds, which of its strings a set holds, else the value). Equal keys
 * mean equal decisions for the same pairs (pairKey adds what depends on the pair).
 */
export function factsKey(facts: PolicyFacts, reads: PolicyReads): string {
  const plan = planOf(reads);
  const calendar = plan.needsCalendar ? calendarOf(facts.nowSec) : NO_CALENDAR;
  const parts: unknown[] = [facts.agent.id, facts.agent.groups, facts.agent.attributes];
  for (const step of plan.steps) parts.push(step(facts, calendar));
  return JSON.stringify(parts);
}

/** The key of one pair's decision: the facts' key, the pair, and `usage.new_action` for its action when read. */
export function pairKey(key: string, facts: PolicyFacts, pair: Pair, reads: PolicyReads): string {
  const base = `${key}\u0000${pair.action}\u0000${pair.location}`;
  if (!reads.leaves.has('usage.new_action')) return base;
  const fresh = newActionOf(facts.usage, pair.action);
  return `${base}\u0000${fresh === undefined ? '?' : fresh ? 1 : 0}`;
}

/**
 * A decider that answers equal questions once. Keys cover everything the policy can tell apart,
 * so a cached answer is the answer. With `maxEntries` the cache is bounded (the least recently
 * used answer leaves first), and when the policy reads the clock's seconds exactly it is emptied
 * each second (older keys can never match again); thresholds on the clock and its hour or weekday
 * keep their keys across seconds.
 */
export function memoizeDecider(
  decider: PolicyDecider,
  opts: { maxEntries?: number } = {},
): PolicyDecider & { readonly hits: number } {
  const cache = new LruMap<string, PairDecision>(opts.maxEntries ?? Number.MAX_SAFE_INTEGER);
  const { reads } = decider;
  const readsSeconds = reads.leaves.get('now.unix')?.kind === 'exact';
  let second = Number.NaN;
  let hits = 0;
  return {
    version: decider.version,
    reads,
    get hits() {
      return hits;
    },
    decide(facts, pairs) {
      if (readsSeconds && facts.nowSec !== second) {
        cache.clear();
        second = facts.nowSec;
      }
      const key = factsKey(facts, reads);
      const keys = pairs.map((p) => pairKey(key, facts, p, reads));
      // Each missing key once, even when several pairs of this call share it.
      const missing = new Map<string, Pair>();
      const known = keys.map((k, i) => {
        const hit = cache.get(k);
        if (hit === undefined && !missing.has(k)) missing.set(k, pairs[i] as Pair);
        return hit;
      });
      // Answers of this call by key: a bound smaller than the call's pairs still answers them all.
      const fresh = new Map<string, PairDecision>();
      if (missing.size) {
        const missingKeys = [...missing.keys()];
        decider.decide(facts, [...missing.values()]).forEach((d, i) => {
          const key = missingKeys[i] as string;
          const answer = { ...d, pair: { ...d.pair, entry: -1 } };
          fresh.set(key, answer);
          cache.set(key, answer);
        });
      }
      hits += pairs.length - missing.size;
      return pairs.map((pair, i) => ({
        ...((known[i] ?? fresh.get(keys[i] as string)) as PairDecision),
        pair,
      }));
    },
  };
}
