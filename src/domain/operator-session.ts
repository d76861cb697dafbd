// Console sessions: who signed in, the form token that proves a post came from our own page, and when it ends.
import type { Operator } from './operator.ts';

/** One signed-in operator. The cookie holds only the session id; this stays in the store. */
export interface OperatorSession {
  readonly operator: Operator;
  /**
   * For an operator signed in at the upstream provider: the groups their ID token carried. Their
   * roles are these mapped by the current `operators.role_groups` on every request.
   */
  readonly groups?: readonly string[] | undefined;
  /** Synchronizer token every state-changing console form carries (random, per session). */
  readonly csrf: string;
  /** Epoch seconds. */
  readonly created_at: number;
  /** Epoch seconds: the session ends then whatever the activity (absolute lifetime). */
  readonly expires_at: number;
}

/** Port: console sessions, each ending at its deadline or after `idleSec` without a request. */
export interface OperatorSessionStore {
  /** Stores a session under `id` (a random value the store keeps only as a digest). */
  create(id: string, session: OperatorSession, idleSec: number): Promise<void>;
  /** The session, its idle timer restarted; undefined when unknown, ended or past its deadline. */
  touch(id: string, idleSec: number, nowSec: number): Promise<OperatorSession | undefined>;
  /** Ends the session at once (sign-out). */
  delete(id: string): Promise<void>;
}
