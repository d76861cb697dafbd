// What the last full evaluation of each grant read, so the next ones can decide before reading.
import type { ContextSnapshot } from '../domain/grant.ts';

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
  /** The epoch minute and the calls counted in it, as last read or since predicted. */
  minute: number;
  calls: number;
  readonly hour: number;
  readonly denied: number;
  /** Actions the agent is known to have used (their decisions' `new_action` is false). */
  readonly usedActions: ReadonlySet<string>;
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
