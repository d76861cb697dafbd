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

/** Decides pairs with one loaded policy version. Implemented by the Cedar adapter. */
export interface PolicyDecider {
  readonly version: number;
  /** One decision per pair, in order, all against the same facts. */
  decide(facts: PolicyFacts, pairs: readonly Pair[]): PairDecision[];
}

/** The calendar parts of a time, in UTC: `now.hour` and `now.weekday` (0 = Sunday). */
export function calendarOf(nowSec: number): { hour: number; weekday: number } {
  const d = new Date(nowSec * 1000);
  return { hour: d.getUTCHours(), weekday: d.getUTCDay() };
}
