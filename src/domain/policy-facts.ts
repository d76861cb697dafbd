// The facts policy decides over: the contract's entity and context model, free of Cedar syntax.
import type { Client } from './client.ts';
import type { PairDecision } from './decision.ts';
import type { OnBehalfOf } from './delegation.ts';
import type { ContextSnapshot } from './grant.ts';
import { type AgentTask, datatypesOf, type Pair } from './intent.ts';
import type { WorkloadContext } from './trusted-issuer.ts';

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
  /** The workload identity (trusted issuer's token) the grant was minted with; absent otherwise. */
  readonly workload?: WorkloadContext | undefined;
  /** The person the grant acts for (RFC 8693 token exchange, ID-JAG); absent otherwise. */
  readonly on_behalf_of?: OnBehalfOf | undefined;
  /** An MCP tool call's arguments the resource exposed (evaluations only); absent otherwise. */
  readonly tool?: ToolFacts | undefined;
}

/** The tool being called (the action) and the arguments its MCP server chose to show policy. */
export interface ToolFacts {
  readonly name: string;
  readonly arguments: Readonly<Record<string, string | number | boolean>>;
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
  'workload',
  'on_behalf_of',
  'tool',
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
  /** Read whole: its claims are the issuer entry's to name. */
  'workload',
  /** Read whole, like workload. */
  'on_behalf_of',
  /** Read whole: its arguments are the MCP server's to name. */
  'tool',
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

/** What of the context a policy set can tell apart (worked out by the Cedar adapter: policy/policy-reads.ts). */
export interface PolicyReads {
  /** Top-level attributes read in any way. A decision cannot depend on the others. */
  readonly attributes: ReadonlySet<ContextKey>;
  /** Every leaf read, with how. A leaf absent here is never read. */
  readonly leaves: ReadonlyMap<ContextLeaf, LeafRead>;
}

/** Decides pairs with one loaded policy version. Implemented by the Cedar adapter. */
export interface PolicyDecider {
  readonly version: number;
  /** What of the context the policy can tell apart, which lets equal decisions be shared (see policy/memoize-decider.ts). */
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

const NO_USAGE: UsageFacts = { calls_last_minute: 0, denied_last_hour: 0 };

/** The facts policy decides over, from a client, a task's entries and a decision's context. */
export function factsOf(
  client: Client,
  entries: readonly AgentTask[],
  context: ContextSnapshot,
  nowSec: number,
  usage: UsageFacts = NO_USAGE,
): PolicyFacts {
  const first = entries[0];
  return {
    agent: { id: client.client_id, groups: client.groups, attributes: client.attributes },
    task: { id: first?.task_id ?? '', purpose: first?.purpose ?? '' },
    datatypes: datatypesOf(entries),
    nowSec,
    ip: context.ip,
    risk: context.risk,
    usage,
    approved: context.approved,
    delegated: context.delegated,
    sender_constrained: context.sender_constrained,
    signals: context.signals,
    workload: context.workload,
    on_behalf_of: context.on_behalf_of,
  };
}
