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
  /** Actions this agent has never used before (the pair's action decides `new_action`). */
  readonly used_actions?: ReadonlySet<string> | undefined;
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
export const CONTEXT_KEYS = ['now', 'ip', 'task', 'datatypes', 'risk', 'usage', 'approved', 'delegated', 'sender_constrained', 'signals'] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

/** Decides pairs with one loaded policy version. Implemented by the Cedar adapter. */
export interface PolicyDecider {
  readonly version: number;
  /**
   * Context attributes the policy text can read (a name it mentions anywhere counts). A decision
   * cannot depend on the others, which lets equal decisions be shared (see memoizeDecider).
   */
  readonly reads: ReadonlySet<ContextKey>;
  /** One decision per pair, in order, all against the same facts. */
  decide(facts: PolicyFacts, pairs: readonly Pair[]): PairDecision[];
}

/** The calendar parts of a time, in UTC: `now.hour` and `now.weekday` (0 = Sunday). */
export function calendarOf(nowSec: number): { hour: number; weekday: number } {
  const d = new Date(nowSec * 1000);
  return { hour: d.getUTCHours(), weekday: d.getUTCDay() };
}

/**
 * The part of the facts a decision by `decider` can depend on, as a string: the agent (id, groups,
 * attributes) always, context attributes only where the policy reads them. Equal keys mean equal
 * decisions for the same pairs.
 */
export function factsKey(facts: PolicyFacts, reads: ReadonlySet<ContextKey>): string {
  const { hour, weekday } = calendarOf(facts.nowSec);
  const parts: unknown[] = [facts.agent.id, facts.agent.groups, facts.agent.attributes];
  if (reads.has('now')) parts.push(facts.nowSec, hour, weekday);
  if (reads.has('ip')) parts.push(facts.ip ?? null);
  if (reads.has('task')) parts.push(facts.task.id, facts.task.purpose);
  if (reads.has('datatypes')) parts.push(facts.datatypes);
  if (reads.has('risk')) parts.push(facts.risk);
  if (reads.has('usage')) parts.push(facts.usage.calls_last_minute, facts.usage.denied_last_hour, facts.usage.used_actions ? [...facts.usage.used_actions].sort() : null);
  if (reads.has('approved')) parts.push(facts.approved);
  if (reads.has('delegated')) parts.push(facts.delegated);
  if (reads.has('sender_constrained')) parts.push(facts.sender_constrained);
  if (reads.has('signals')) parts.push([...facts.signals].sort());
  return JSON.stringify(parts);
}

/**
 * A decider that answers equal questions once. Keys cover everything the policy can read, so a
 * cached answer is the answer. With `maxEntries` the cache is bounded, and when the policy reads
 * the clock it is emptied each second (older keys can never match again).
 */
export function memoizeDecider(decider: PolicyDecider, opts: { maxEntries?: number } = {}): PolicyDecider & { readonly hits: number } {
  const cache = new Map<string, PairDecision>();
  const maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
  const readsClock = decider.reads.has('now');
  let second = Number.NaN;
  let hits = 0;
  return {
    version: decider.version,
    reads: decider.reads,
    get hits() {
      return hits;
    },
    decide(facts, pairs) {
      if ((readsClock && facts.nowSec !== second) || cache.size >= maxEntries) {
        if (Number.isFinite(maxEntries)) cache.clear();
        second = facts.nowSec;
      }
      const base = factsKey(facts, decider.reads);
      const keys = pairs.map((p) => `${base}\u0000${p.action}\u0000${p.location}`);
      const missing = pairs.filter((_, i) => !cache.has(keys[i] as string));
      if (missing.length) {
        decider.decide(facts, missing).forEach((d) => cache.set(`${base}\u0000${d.pair.action}\u0000${d.pair.location}`, { ...d, pair: { ...d.pair, entry: -1 } }));
      }
      hits += pairs.length - missing.length;
      return pairs.map((pair, i) => ({ ...(cache.get(keys[i] as string) as PairDecision), pair }));
    },
  };
}
