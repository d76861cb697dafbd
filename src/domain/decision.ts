// Decisions: per-pair policy effects combined into the outcome of a whole intent.
import { type AgentTask, narrowEntries, type Pair } from './intent.ts';

/** What policy said of one pair. `approval`: only `@remedy("approval")` forbids denied it. */
export type PairEffect = 'permit' | 'deny' | 'approval';

export interface PairDecision {
  readonly pair: Pair;
  readonly effect: PairEffect;
  /** Ids of the policies that determined the effect. */
  readonly reasons: string[];
  /** Policy evaluation errors (a policy that errors does not apply: Cedar's semantics). */
  readonly errors?: string[] | undefined;
}

/** The outcome of deciding a whole intent. `granted` is exactly the permitted pairs. */
export type IntentDecision =
  | { readonly outcome: 'permit'; readonly granted: AgentTask[]; readonly pairs: PairDecision[] }
  | { readonly outcome: 'narrow'; readonly granted: AgentTask[]; readonly pairs: PairDecision[] }
  | { readonly outcome: 'approval'; readonly granted: AgentTask[]; readonly pairs: PairDecision[] }
  | { readonly outcome: 'deny'; readonly granted: []; readonly pairs: PairDecision[] };

/**
 * Combines pair decisions. Any pair that only a human may allow makes the intent wait for
 * approval (covering the permitted and approvable pairs); otherwise all permitted is a permit,
 * some a narrowing, none a denial.
 */
export function combineDecisions(
  entries: readonly AgentTask[],
  pairs: PairDecision[],
): IntentDecision {
  const permitted = pairs.filter((p) => p.effect === 'permit').map((p) => p.pair);
  const approvable = pairs.filter((p) => p.effect === 'approval').map((p) => p.pair);
  if (approvable.length > 0) {
    return {
      outcome: 'approval',
      granted: narrowEntries(entries, [...permitted, ...approvable]),
      pairs,
    };
  }
  if (permitted.length === 0) return { outcome: 'deny', granted: [], pairs };
  const granted = narrowEntries(entries, permitted);
  return { outcome: permitted.length === pairs.length ? 'permit' : 'narrow', granted, pairs };
}

/** The distinct policy ids behind the decisions, optionally only those of one effect. */
export function reasonsOf(pairs: readonly PairDecision[], effect?: PairEffect): string[] {
  const ids = new Set<string>();
  for (const p of pairs) if (!effect || p.effect === effect) for (const r of p.reasons) ids.add(r);
  return [...ids];
}
