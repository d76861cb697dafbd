// What the last full evaluation of each grant read, so the next ones can decide before reading.
import type { EvaluationState } from '../domain/ports.ts';

/**
 * A grant as an evaluation last read it. Nothing here is trusted: an evaluation decided from it
 * holds only if the decision log's guard finds the grant unchanged (see EvaluationGuard).
 */
export interface GrantSnapshot {
  readonly state: EvaluationState;
  /** The epoch minute and the calls counted in it, as last read or since predicted. */
  minute: number;
  calls: number;
  readonly hour: number;
  readonly denied: number;
  /** Actions the agent is known to have used (their decisions' `new_action` is false). */
  readonly usedActions: ReadonlySet<string>;
}

/** The snapshots of one broker, newest kept: at most `max`, the oldest written dropped first. */
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
