// Drift detectors: pure rules over (approved intent, current facts) that decide a grant's fate now.
import { combineDecisions, type PairDecision, reasonsOf } from './decision.ts';
import type { Grant } from './grant.ts';
import type { AgentTask } from './intent.ts';

/** A context change reported for a grant (`POST /v1/signals`). */
export interface Signal {
  readonly type: string;
  readonly risk?: number | undefined;
  readonly context?: Record<string, unknown> | undefined;
  /** Epoch seconds. */
  readonly at: number;
}

/**
 * Signals the evaluation endpoint records itself when an agent behaves off its declared intent:
 * a step taken out of the declared order, or an action outside its grant that it never used.
 */
export const BEHAVIOUR_SIGNALS = {
  stepOutOfOrder: 'step_out_of_order',
  neverUsedAction: 'never_used_action',
} as const;

/**
 * What a grant's signals add up to, kept beside its bounded list of recent signals so that dropping
 * old entries changes no decision: every type seen (the Cedar context's `signals`), the most recent
 * address a signal reported, the highest risk, and a version counted up by each signal (an
 * evaluation identifies the signal state by it instead of hashing the history).
 */
export interface SignalSummary {
  readonly version: number;
  readonly types: readonly string[];
  readonly ip?: string | undefined;
  readonly risk: number;
}

export const NO_SIGNALS: SignalSummary = { version: 0, types: [], risk: 0 };

/**
 * Signal types a grant always takes, however many other types it holds: those the drift rules
 * act on, so that filling a grant with made-up types cannot keep out the one that ends it.
 */
export const DRIFT_SIGNAL_TYPES: ReadonlySet<string> = new Set([
  'task_complete',
  'ip_changed',
  'workload_mismatch',
  'prompt_changed',
  BEHAVIOUR_SIGNALS.stepOutOfOrder,
  BEHAVIOUR_SIGNALS.neverUsedAction,
]);

/** The summary's part of a decision's live context: ip, risk and the set of signal types, over the grant's own. */
export function summarizedContext(grant: Pick<Grant, 'context'>, summary: SignalSummary) {
  return {
    ip: summary.ip ?? grant.context.ip,
    risk: Math.max(grant.context.risk, summary.risk),
    signals: [...new Set([...grant.context.signals, ...summary.types])],
  };
}

/**
 * The recent signals, preceded by stand-ins for what the summary knows and they no longer show
 * (older entries dropped by the per-grant cap): one entry per type seen only before, carrying the
 * highest risk and the latest address when the recent ones do not. The drift rules and
 * latestIp/latestRisk then decide as over the whole history. Stand-ins carry no other context, so
 * the rules that read a signal's context (ip_changed, prompt_changed), which acted when it came,
 * are not replayed; the address rides on a type other than ip_changed when there is one.
 */
export function withSummary(
  recent: readonly Signal[],
  summary: SignalSummary | undefined,
): Signal[] {
  if (!summary || summary.version <= recent.length) return [...recent];
  const seen = new Set(recent.map((s) => s.type));
  const standIns: Array<{
    type: string;
    risk?: number;
    context?: Record<string, unknown>;
    at: number;
  }> = summary.types.filter((t) => !seen.has(t)).map((type) => ({ type, at: 0 }));
  const carrierType = summary.types.find((t) => t !== 'ip_changed') ?? summary.types[0];
  if (carrierType === undefined) return [...recent];
  const carrier = () => {
    let c = standIns.find((s) => s.type === carrierType);
    if (!c) {
      c = { type: carrierType, at: 0 };
      standIns.unshift(c);
    }
    return c;
  };
  if (summary.risk > recent.reduce((max, s) => Math.max(max, s.risk ?? 0), 0))
    carrier().risk = summary.risk;
  if (summary.ip !== undefined && !recent.some((s) => typeof s.context?.ip === 'string'))
    carrier().context = { ip: summary.ip };
  return [...standIns, ...recent];
}

/** Reason codes of re-evaluation decisions, one per detector. */
export type DriftReason =
  | 'deadline_passed'
  | 'task_complete'
  | 'agent_deleted'
  | 'agent_disabled'
  | 'groups_changed'
  | 'ip_changed'
  | 'workload_mismatch'
  | 'action_class_changed'
  | 'step_out_of_order'
  | 'never_used_action'
  | 'policy_denied'
  | 'policy_narrowed'
  | 'approval_required';

export type Reevaluation =
  | { readonly outcome: 'keep'; readonly reasons: string[] }
  | { readonly outcome: 'narrow'; readonly granted: AgentTask[]; readonly reasons: string[] }
  | { readonly outcome: 'suspend'; readonly reasons: string[]; readonly pairs: PairDecision[] }
  | { readonly outcome: 'revoke'; readonly reasons: string[] };

export interface AgentNow {
  readonly disabled: boolean;
  readonly groups: readonly string[];
}

/** Rules that need no policy: each returns its reason when the grant must end. */
export function detectHardDrift(
  grant: Grant,
  agent: AgentNow | undefined,
  signals: readonly Signal[],
  nowSec: number,
): DriftReason | undefined {
  if (grant.expires_at <= nowSec) return 'deadline_passed';
  if (signals.some((s) => s.type === 'task_complete')) return 'task_complete';
  if (!agent) return 'agent_deleted';
  if (agent.disabled) return 'agent_disabled';
  for (const s of signals) {
    if (
      s.type === 'ip_changed' &&
      typeof s.context?.ip === 'string' &&
      grant.context.ip &&
      s.context.ip !== grant.context.ip
    )
      return 'ip_changed';
    if (s.type === 'workload_mismatch') return 'workload_mismatch';
    if (s.type === 'prompt_changed' && asksOutsideGrant(s, grant.granted))
      return 'action_class_changed';
    // Behaviour seen at action time (recorded as signals by the evaluation endpoint).
    if (s.type === BEHAVIOUR_SIGNALS.stepOutOfOrder) return 'step_out_of_order';
    if (s.type === BEHAVIOUR_SIGNALS.neverUsedAction) return 'never_used_action';
  }
  return undefined;
}

/** A prompt change names the actions the task now wants (`context.actions` or `context.action_class`). */
function asksOutsideGrant(signal: Signal, granted: readonly AgentTask[]): boolean {
  const asked = [signal.context?.actions, signal.context?.action_class]
    .flat()
    .filter((a): a is string => typeof a === 'string');
  const held = new Set(granted.flatMap((e) => e.actions));
  return asked.some((a) => !held.has(a));
}

/** True when the agent's groups differ from those it had when the grant was approved. */
export function groupsChanged(grant: Grant, agent: AgentNow): boolean {
  const before = new Set(grant.context.groups);
  return before.size !== agent.groups.length || agent.groups.some((g) => !before.has(g));
}

/** The most recent source address a signal reported, else the approved one. */
export function latestIp(grant: Grant, signals: readonly Signal[]): string | undefined {
  for (let i = signals.length - 1; i >= 0; i -= 1) {
    const ip = signals[i]?.context?.ip;
    if (typeof ip === 'string') return ip;
  }
  return grant.context.ip;
}

/** The highest risk any signal reported, else the approved risk. */
export function latestRisk(grant: Grant, signals: readonly Signal[]): number {
  return signals.reduce((max, s) => Math.max(max, s.risk ?? 0), grant.context.risk);
}

/**
 * The policy detector: the granted pairs decided again. All permitted keeps; some narrows; none
 * revokes, unless only `@remedy("approval")` forbids stand in the way, which suspends.
 */
export function judgePolicy(
  granted: readonly AgentTask[],
  pairs: PairDecision[],
  extraReasons: string[] = [],
): Reevaluation {
  const decision = combineDecisions(granted, pairs);
  const denied = reasonsOf(pairs, 'deny');
  if (decision.outcome === 'permit') return { outcome: 'keep', reasons: extraReasons };
  if (decision.outcome === 'narrow')
    return {
      outcome: 'narrow',
      granted: decision.granted,
      reasons: ['policy_narrowed', ...extraReasons, ...denied],
    };
  if (decision.outcome === 'approval') {
    const permitted = pairs.some((p) => p.effect === 'permit');
    if (!permitted)
      return {
        outcome: 'suspend',
        reasons: ['approval_required', ...extraReasons, ...reasonsOf(pairs, 'approval')],
        pairs,
      };
    const onlyPermitted = pairs.map((p) =>
      p.effect === 'approval' ? { ...p, effect: 'deny' as const } : p,
    );
    const narrowed = combineDecisions(granted, onlyPermitted);
    return {
      outcome: 'narrow',
      granted: narrowed.granted,
      reasons: ['policy_narrowed', ...extraReasons, ...reasonsOf(pairs, 'approval')],
    };
  }
  return { outcome: 'revoke', reasons: ['policy_denied', ...extraReasons, ...denied] };
}
