// What the last full evaluation of each grant read, so the next ones can decide before reading.
import type { ContextSnapshot } from '../domain/grant.ts';
import { CALLS_WINDOW, DENIED_WINDOW, type UsageWindow, windowAt } from '../domain/policy-facts.ts';

/**
 * What a decision needs of a grant, as an evaluation last read it (kept small: a signal's context
 * is not kept, only what it changed). Nothing here is trusted: an evaluation decided from it holds
 * only if the decision log's guard finds the grant unchanged (see EvaluationGuard).
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

/** The snapshots of one broker, newest kept: at most `max` (about 1 KB each), the oldest written dropped first. */
export class GrantSnapshots {
  readonly #byGrant = new Map<string, GrantSnapshot>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  get(grantId: string): GrantSnapshot | undefined {
    return this.#byGrant.get(grantId);
  }

  set(grantId: string, snapshot: GrantSnapshot): void {
    this.#byGrant.delete(grantId);
    this.#byGrant.set(grantId, snapshot);
    if (this.#byGrant.size > this.#max) {
      const oldest = this.#byGrant.keys().next().value;
      if (oldest !== undefined) this.#byGrant.delete(oldest);
    }
  }

  delete(grantId: string): void {
    this.#byGrant.delete(grantId);
  }
}
