// The snapshot protocol: what the last full evaluation of each grant read, so the next ones can
// decide before reading (predicted counts, the count ranges a decision holds for, and the guard
// that has the store check them when the decision is committed).
import type { AccessTokenClaims } from '../domain/access-token.ts';
import { type GrantFacts, liveContext } from '../domain/evaluation.ts';
import type { ContextSnapshot } from '../domain/grant.ts';
import { LruMap } from '../domain/lru-map.ts';
import {
  CALLS_WINDOW,
  type CountRange,
  DENIED_WINDOW,
  type PolicyReads,
  sameRank,
  type UsageWindow,
  windowAt,
} from '../domain/policy-facts.ts';
import type { EvaluationGuard, EvaluationState } from '../domain/ports.ts';

/**
 * What a decision needs of a grant, as an evaluation last read it (kept small: a signal's context
 * is not kept, only what it changed). Nothing here is trusted: an evaluation decided from it holds
 * only if the evaluation store's guard finds the grant unchanged (see EvaluationGuard and guardOf).
 */
export interface GrantSnapshot {
  readonly clientId: string;
  readonly taskId: string;
  readonly expiresAt: number;
  readonly policyVersion: number;
  /** Of the grant's data and signals (EvaluationState.digest). */
  readonly digest: string;
  /** The live context with the signals applied (an evaluation's own `ip` replaces its ip). */
  readonly context: ContextSnapshot;
  /**
   * The trailing minute's calls as last read or since predicted, and when (epoch s): calls only
   * leave the window, so the count stays an upper bound of this process' knowledge until a whole
   * window has passed (see predictedCounts).
   */
  callsAtSec: number;
  calls: number;
  /** The trailing hour's denials as last read, and when (epoch s). */
  readonly deniedAtSec: number;
  readonly denied: number;
  /** Actions the agent is known to have used (their decisions' `new_action` is false). */
  readonly usedActions: ReadonlySet<string>;
}

/** A count read at `atSec` as it may stand at `nowSec`: unchanged, or 0 once everything counted then has left the window. */
function carried(window: UsageWindow, count: number, atSec: number, nowSec: number): number {
  return windowAt(window, nowSec).oldest > windowAt(window, atSec).bucket ? 0 : count;
}

/**
 * The counts an evaluation decided from `snapshot` at `nowSec` predicts: the trailing minute's
 * calls with this one, and the trailing hour's denials. Calls and denials leaving the window and
 * other processes' calls make the real counts differ; the guard checks them (see EvaluationGuard),
 * so a prediction only has to be right often.
 */
export function predictedCounts(
  snapshot: GrantSnapshot,
  nowSec: number,
): { calls: number; denied: number } {
  return {
    calls: carried(CALLS_WINDOW, snapshot.calls, snapshot.callsAtSec, nowSec) + 1,
    denied: carried(DENIED_WINDOW, snapshot.denied, snapshot.deniedAtSec, nowSec),
  };
}

/** The grant as `snapshot` remembers it, with the predicted counts (a verdict's GrantFacts). */
export function grantFactsOf(snapshot: GrantSnapshot, calls: number, denied: number): GrantFacts {
  return {
    status: 'active',
    expires_at: snapshot.expiresAt,
    client_id: snapshot.clientId,
    jtiRevoked: false,
    // Decided from a snapshot only on entries without declared steps.
    lastStep: -1,
    context: snapshot.context,
    usage: {
      calls_last_minute: calls,
      denied_last_hour: denied,
      used_actions: snapshot.usedActions,
    },
  };
}

/** `range` with its lower end raised to `lowest`, the least a count can be. */
const from = (lowest: number, range: CountRange): CountRange => ({
  ...range,
  min: Math.max(range.min ?? lowest, lowest),
});

/**
 * The usage a decision from `snapshot` holds for, and the guard that checks it: the ranges of
 * counts a policy with `reads` cannot tell from the predicted ones (`reevaluateAt`, the count that
 * starts a re-evaluation, told apart too), not the counts. The record's usage shows the ranges.
 */
export function guardOf(
  snapshot: GrantSnapshot,
  at: {
    readonly claims: Pick<AccessTokenClaims, 'grant_id' | 'jti' | 'client_id'>;
    readonly action: string;
    readonly reads: PolicyReads;
    readonly calls: number;
    readonly denied: number;
    readonly reevaluateAt: number;
    readonly nowSec: number;
  },
): {
  usage: { calls_last_minute: CountRange; denied_last_hour: CountRange; new_action: false };
  guard: EvaluationGuard;
} {
  const usage = {
    // This call counts, so at least 1; denials at least 0.
    calls_last_minute: from(
      1,
      sameRank(at.reads, 'usage.calls_last_minute', at.calls, [at.reevaluateAt]),
    ),
    denied_last_hour: from(0, sameRank(at.reads, 'usage.denied_last_hour', at.denied)),
    new_action: false as const,
  };
  return {
    usage,
    guard: {
      grantId: at.claims.grant_id,
      jti: at.claims.jti,
      clientId: at.claims.client_id,
      action: at.action,
      expiresAt: snapshot.expiresAt,
      policyVersion: snapshot.policyVersion,
      digest: snapshot.digest,
      calls: usage.calls_last_minute,
      denied: usage.denied_last_hour,
      nowSec: at.nowSec,
    },
  };
}

/** The snapshots of one broker: at most `max` (about 1 KB each), the least recently used dropped first. */
export class GrantSnapshots {
  readonly #byGrant: LruMap<string, GrantSnapshot>;

  constructor(max = 25_000) {
    this.#byGrant = new LruMap(max);
  }

  get(grantId: string): GrantSnapshot | undefined {
    return this.#byGrant.get(grantId);
  }

  set(grantId: string, snapshot: GrantSnapshot): void {
    this.#byGrant.set(grantId, snapshot);
  }

  delete(grantId: string): void {
    this.#byGrant.delete(grantId);
  }

  /**
   * Keeps what a full evaluation read (`state`) and what its outcome changed, for deciding the
   * next ones; forgets the grant when it is not active or the token was revoked. `denied` is the
   * outcome's count of denials this hour (0 for an allowed call, which counts none).
   */
  remember(
    state: EvaluationState,
    action: string,
    allowed: boolean,
    denied: number,
    nowSec: number,
  ): void {
    const grantId = state.grant.id;
    if (state.status !== 'active' || state.jtiRevoked) {
      this.delete(grantId);
      return;
    }
    const known = this.#byGrant.peek(grantId)?.usedActions;
    const used = state.actionUsedBefore || allowed;
    this.set(grantId, {
      clientId: state.client_id,
      taskId: state.grant.task_id,
      expiresAt: state.expires_at,
      policyVersion: state.grant.policy_version,
      digest: state.digest,
      context: liveContext(state.grant, state.signals),
      callsAtSec: nowSec,
      calls: state.callsLastMinute,
      deniedAtSec: nowSec,
      denied: allowed ? state.deniedLastHour : denied,
      usedActions:
        used && !known?.has(action) ? new Set([...(known ?? []), action]) : (known ?? new Set()),
    });
  }
}
