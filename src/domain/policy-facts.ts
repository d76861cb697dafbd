// The facts policy decides over: the contract's entity and context model, free of Cedar syntax.
import type { PairDecision } from './decision.ts';
import type { Pair } from './intent.ts';

export interface AgentFacts {
  readonly id: string;
  readonly groups: readonly string[];
  readonly attributes: Readonly<Record<string, string | number | boolean | string[]>>;
}

export interface UsageFacts {
  readonly calls_last_minute: number;
  readonly denied_last_hour: number;
  /**
   * Actions this agent has used (an allowed evaluation), at least among the actions of the pairs
   * decided: `new_action` is true for a pair whose action is not here. Undefined when not read,
   * which a policy reading `usage.new_action` never decides with (see newActionOf).
   */
  readonly used_actions?: ReadonlySet<string> | undefined;
}

/**
 * A trailing count window made of fixed buckets (bucket = floor(epoch s / bucketSec)): a count
 * is the sum of the last `buckets` buckets, the current one included. With `buckets` one more
 * than the window's span in buckets, an event counts for at least the span and less than the span
 * plus one bucket: never less than the exact trailing count, at most one bucket's worth more.
 */
export interface UsageWindow {
  readonly bucketSec: number;
  readonly buckets: number;
}

/** `calls_last_minute`: 1 s buckets; a call counts for at least 60 s and less than 61 s. */
export const CALLS_WINDOW: UsageWindow = { bucketSec: 1, buckets: 61 };
/** `denied_last_hour`: 60 s buckets; a denial counts for at least 3600 s and less than 3660 s. */
export const DENIED_WINDOW: UsageWindow = { bucketSec: 60, buckets: 61 };

/** The bucket an event at `nowSec` counts into, and the oldest bucket the count at `nowSec` sums. */
export function windowAt(window: UsageWindow, nowSec: number): { bucket: number; oldest: number } {
  const bucket = Math.floor(nowSec / window.bucketSec);
  return { bucket, oldest: bucket - window.buckets + 1 };
}

/** How long (s) a window's buckets are worth keeping after the last event: a bucket past its window counts no more. */
export const windowTtlSec = (window: UsageWindow) => (window.buckets + 1) * window.bucketSec;

/**
 * The count of a window stored as bucket -> count pairs (a Redis hash's fields), from bucket
 * `oldest` on. A bucket ahead of now (another process' clock runs ahead) counts too. The Lua
 * scripts of the usage store compute the same sum (see store/scripts/includes/trailingWindow.lua).
 */
export function windowCount(buckets: Readonly<Record<string, string>>, oldest: number): number {
  let n = 0;
  for (const [bucket, count] of Object.entries(buckets))
    if (Number(bucket) >= oldest) n += Number(count);
  return n;
}

/** Everything about "now" that a decision may depend on. */
export interface PolicyFacts {
  readonly agent: AgentFacts;
  readonly task: { readonly id: string; readonly purpose: string };
  readonly datatypes: readonly string[];
  /** Epoch seconds of the decision. */
  readonly nowSec: number;
  readonly ip?: string | undefined;
  readonly risk: number;
  readonly usage: UsageFacts;
  readonly approved: boolean;
  readonly delegated: boolean;
  readonly sender_constrained: boolean;
  readonly signals: readonly string[];
}

/** The context attributes of the contract's model. */
export const CONTEXT_KEYS = [
  'now',
  'ip',
  'task',
  'datatypes',
  'risk',
  'usage',
  'approved',
  'delegated',
  'sender_constrained',
  'signals',
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

/** The leaves of the context model, as paths: the values a policy can compare, test or pass on. */
export const CONTEXT_LEAVES = [
  'now.unix',
  'now.hour',
  'now.weekday',
  'ip',
  'task.id',
  'task.purpose',
  'datatypes',
  'risk',
  'usage.calls_last_minute',
  'usage.denied_last_hour',
  'usage.new_action',
  'approved',
  'delegated',
  'sender_constrained',
  'signals',
] as const;
export type ContextLeaf = (typeof CONTEXT_LEAVES)[number];

/** How a policy set uses one leaf, from the least it can tell apart to everything. */
export type LeafRead =
  /** Only compared with these integers (ascending): the sign of value - L for each L decides. */
  | { readonly kind: 'threshold'; readonly literals: readonly number[] }
  /** Only asked whether it contains these strings (ascending): which of them it holds decides. */
  | { readonly kind: 'membership'; readonly literals: readonly string[] }
  /** Used any other way: the value itself decides (for `ip`, its presence too). */
  | { readonly kind: 'exact' };

/** What of the context a policy set can tell apart (see policyReads in policy-reads.ts). */
export interface PolicyReads {
  /** Top-level attributes read in any way. A decision cannot depend on the others. */
  readonly attributes: ReadonlySet<ContextKey>;
  /** Every leaf read, with how. A leaf absent here is never read. */
  readonly leaves: ReadonlyMap<ContextLeaf, LeafRead>;
}

/** Decides pairs with one loaded policy version. Implemented by the Cedar adapter. */
export interface PolicyDecider {
  readonly version: number;
  /** What of the context the policy can tell apart, which lets equal decisions be shared (see memoizeDecider). */
  readonly reads: PolicyReads;
  /** One decision per pair, in order, all against the same facts. */
  decide(facts: PolicyFacts, pairs: readonly Pair[]): PairDecision[];
}

/** The calendar parts of a time, in UTC: `now.hour` and `now.weekday` (0 = Sunday). */
export function calendarOf(nowSec: number): { hour: number; weekday: number } {
  const d = new Date(nowSec * 1000);
  return { hour: d.getUTCHours(), weekday: d.getUTCDay() };
}

/**
 * `usage.new_action` for one pair: the agent never used its action before; undefined when the
 * history was not read. A decider denies a pair it would decide on an unread history (fail
 * closed: neither true nor false is safe for every policy).
 */
export function newActionOf(usage: UsageFacts, action: string): boolean | undefined {
  return usage.used_actions ? !usage.used_actions.has(action) : undefined;
}

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

/** Counts from `min` to `max` (either side open when absent), both included. */
export interface CountRange {
  readonly min?: number;
  readonly max?: number;
}

/**
 * The counts a usage leaf may take without changing what a policy with `reads` can tell apart
 * from `value` (see rankOf): the value alone when the leaf is read exactly or equals a threshold,
 * the gap between the thresholds around it otherwise, and any count when the leaf is not read.
 * `points` are more values to tell apart exactly (a count that triggers work of its own).
 */
export function sameRank(
  reads: PolicyReads,
  leaf: 'usage.calls_last_minute' | 'usage.denied_last_hour',
  value: number,
  points: readonly number[] = [],
): CountRange {
  const read = reads.leaves.get(leaf);
  const literals =
    read?.kind === 'threshold' ? [...read.literals, ...points] : read ? [value] : points;
  let min: number | undefined;
  let max: number | undefined;
  for (const l of literals) {
    if (l === value) return { min: value, max: value };
    if (l < value && (min === undefined || l + 1 > min)) min = l + 1;
    if (l > value && (max === undefined || l - 1 < max)) max = l - 1;
  }
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
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
 * so a cached answer is the answer. With `maxEntries` the cache is bounded, and when the policy
 * reads the clock's seconds exactly it is emptied each second (older keys can never match again);
 * thresholds on the clock and its hour or weekday keep their keys across seconds.
 */
export function memoizeDecider(
  decider: PolicyDecider,
  opts: { maxEntries?: number } = {},
): PolicyDecider & { readonly hits: number } {
  const cache = new Map<string, PairDecision>();
  const maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
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
      if ((readsSeconds && facts.nowSec !== second) || cache.size >= maxEntries) {
        if (Number.isFinite(maxEntries)) cache.clear();
        second = facts.nowSec;
      }
      const key = factsKey(facts, reads);
      const keys = pairs.map((p) => pairKey(key, facts, p, reads));
      // Each missing key once, even when several pairs of this call share it.
      const missing = new Map<string, Pair>();
      keys.forEach((k, i) => {
        if (!cache.has(k) && !missing.has(k)) missing.set(k, pairs[i] as Pair);
      });
      if (missing.size) {
        const missingKeys = [...missing.keys()];
        decider.decide(facts, [...missing.values()]).forEach((d, i) => {
          cache.set(missingKeys[i] as string, { ...d, pair: { ...d.pair, entry: -1 } });
        });
      }
      hits += pairs.length - missing.size;
      return pairs.map((pair, i) => ({ ...(cache.get(keys[i] as string) as PairDecision), pair }));
    },
  };
}
